/**
 * Head gossip runs in the background of the pubsub service: a failing capability check or head
 * handler becomes one dropped frame, never an unhandled rejection (which ends `pile net sync`).
 */
import { expect, test } from "bun:test";
import { SigningKey } from "../../src/core/ed25519.ts";
import { encodeHeadFrame, type GossipMessage, HeadGossip, type PubSubLike, teamTopic } from "../../src/net/gossip.ts";
import { until } from "./fixtures/until.ts";

/** The pubsub seam: delivers what a test dispatches, publishes nowhere. */
class LocalPubSub implements PubSubLike {
  private readonly listeners = new Set<(evt: CustomEvent<GossipMessage>) => void>();
  subscribe(): void {}
  unsubscribe(): void {}
  async publish(): Promise<unknown> {
    return undefined;
  }
  addEventListener(_type: "message", listener: (evt: CustomEvent<GossipMessage>) => void): void {
    this.listeners.add(listener);
  }
  removeEventListener(_type: "message", listener: (evt: CustomEvent<GossipMessage>) => void): void {
    this.listeners.delete(listener);
  }
  deliver(message: GossipMessage): void {
    for (const listener of this.listeners) listener(new CustomEvent("message", { detail: message }));
  }
}

test("a capability check or head handler that throws drops that frame; nothing is left unhandled", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const teamRoot = SigningKey.generate().publicKey;
    const publisher = SigningKey.generate().publicKey;
    const pubsub = new LocalPubSub();
    const drops: string[] = [];
    let admits = 0;
    const gossip = new HeadGossip({
      pubsub,
      teamRoot,
      self: SigningKey.generate().publicKey,
      admit: async () => {
        if (admits++ === 0) throw new Error("pile unreadable");
        return true;
      },
      onHead: () => {
        throw new Error("store full");
      },
      onDrop: (reason) => drops.push(reason),
    });
    gossip.start();
    const data = encodeHeadFrame({ branchId: new Uint8Array(16).fill(1), head: new Uint8Array(32).fill(2), publisher });
    const send = () => pubsub.deliver({ type: "signed", topic: teamTopic(teamRoot), data, key: { raw: publisher } });
    send();
    await until(() => drops.length === 1);
    send();
    await until(() => drops.length === 2);
    expect(drops).toEqual(["could not check the publisher's capability: pile unreadable", "could not act on the head: store full"]);
    await Bun.sleep(0);
    expect(unhandled).toEqual([]);
    gossip.stop();
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});
