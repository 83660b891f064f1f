/**
 * Binds a command to an action in a module loaded on first use. Command definitions stay light,
 * so `tribles --help` never loads the pile, repo, auth or net layers (start-up is measured).
 */
// biome-ignore lint/suspicious/noExplicitAny: actions take the parameters cac passes them.
type Action = (...args: any[]) => unknown;

export function lazy<M, K extends { [P in keyof M]: M[P] extends Action ? P : never }[keyof M]>(load: () => Promise<M>, name: K): Action {
  return async (...args: unknown[]) => ((await load())[name] as Action)(...args);
}
