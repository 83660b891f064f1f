/** Reports heads gossip dropped, each (publisher, head, reason) once: gossip re-sends a head every republish. */
import type { TeamPolicy } from "../../auth/policy.ts";
import { toHex } from "../../core/bytes.ts";
import type { HeadFrame } from "../gossip.ts";
import { peerIdFromKey } from "../peer-key.ts";
import type { NodeLife } from "./life.ts";

/** Dropped heads remembered so each is reported once; the memory is cleared when it is full. */
export const MAX_DROPS_REMEMBERED = 4096;

export class DropReporter {
  private readonly said = new Set<string>();

  constructor(
    private readonly life: NodeLife,
    private readonly team: TeamPolicy | undefined,
  ) {}

  /** A dropped frame, reported with its publisher and, for a refused publisher, why in words. */
  report(reason: string, frame: HeadFrame | null): void {
    const team = this.team;
    const why = frame && team && reason === "publisher has no valid capability" ? team.whyNotAdmitted(frame.publisher, frame.branchId) : reason;
    const said = frame ? `${toHex(frame.publisher)}${toHex(frame.head)}${why}` : why;
    if (this.said.has(said)) return;
    if (this.said.size >= MAX_DROPS_REMEMBERED) this.said.clear();
    this.said.add(said);
    this.life.emit({ type: "gossip-dropped", reason: why, ...(frame ? { publisher: peerIdFromKey(frame.publisher).toString() } : {}) });
  }
}
