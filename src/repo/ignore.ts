/**
 * `.triblesignore`: which paths of a folder a commit leaves out, in the gitignore syntax most
 * users know (a subset): one pattern a line, `#` comments, `!` re-includes, a trailing `/` matches
 * directories only, a pattern with a `/` elsewhere is anchored at the folder root, otherwise it
 * matches a name at any depth; `*` and `?` stay within a segment, `**` spans segments.
 */

interface Rule {
  regex: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

export class IgnoreRules {
  private constructor(private readonly rules: Rule[]) {}

  static parse(text: string): IgnoreRules {
    const rules: Rule[] = [];
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.replace(/(?<!\\)\s+$/, "");
      if (line === "" || line.startsWith("#")) continue;
      const negate = line.startsWith("!");
      if (negate) line = line.slice(1);
      const dirOnly = line.endsWith("/");
      if (dirOnly) line = line.replace(/\/+$/, "");
      const anchored = line.includes("/");
      line = line.replace(/^\//, "");
      if (line === "") continue;
      const body = globToRegex(line);
      rules.push({ regex: new RegExp(anchored ? `^${body}$` : `(^|/)${body}$`), negate, dirOnly });
    }
    return new IgnoreRules(rules);
  }

  static none(): IgnoreRules {
    return new IgnoreRules([]);
  }

  /** Whether a folder-relative path ('/'-separated) is ignored; the last matching rule decides. */
  ignores(path: string, isDirectory: boolean): boolean {
    let ignored = false;
    for (const rule of this.rules) {
      if (rule.dirOnly && !isDirectory) continue;
      if (rule.regex.test(path)) ignored = !rule.negate;
    }
    return ignored;
  }
}

function globToRegex(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      i++;
      if (glob[i + 1] === "/") {
        i++;
        out += "(?:.*/)?";
      } else out += ".*";
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) out += "\\[";
      else {
        out += `[${glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else if (c === "\\" && i + 1 < glob.length) out += `\\${glob[++i]}`;
    else out += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return out;
}
