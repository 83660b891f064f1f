/**
 * A small internet in network namespaces, for tests and the reach bench: a "public" namespace
 * (the internet's router, and the relay on 11.0.0.1), and per home a NAT router namespace (WAN
 * 12.0.0.2 or 13.0.0.2 …, masquerading its LAN) in front of a home namespace (10.0.N.2). Addresses
 * outside the private ranges on purpose: libp2p hole punching only uses public-looking addresses.
 * Needs root, iproute2 and iptables; nothing touches the host's own interfaces.
 */
export type NatKind = "cone" | "symmetric";

export interface Home {
  /** The home namespace, where a peer runs. */
  ns: string;
  /** The peer's address on the home LAN. */
  addr: string;
  /** The router's public (WAN) address. */
  wan: string;
  router: string;
}

export interface NatLab {
  pub: string;
  relayAddr: string;
  homes: Home[];
  /** `ip netns exec NS` for a command run inside a namespace. */
  exec(ns: string): string[];
  /** Adds a plain LAN link (veth, no NAT) between the first two homes' namespaces: 10.99.0.1 / .2; `remove` takes it away. */
  lan(): { a: string; b: string; remove(): void };
  destroy(): void;
}

export function natLabMissing(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "creating network namespaces needs root";
  if (!Bun.which("ip")) return "iproute2 (`ip`) is not installed";
  if (!Bun.which("iptables")) return "iptables is not installed";
  return undefined;
}

function run(...args: string[]): void {
  const r = Bun.spawnSync(args, { stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

/** Builds the lab; `nats` gives each home's NAT kind. Destroy it in afterAll/finally. */
export function makeNatLab(tag: string, nats: NatKind[]): NatLab {
  const name = (n: string) => `trn-${tag}-${n}`;
  const pub = name("pub");
  const all = [pub];
  const homes: Home[] = [];
  const lab: NatLab = {
    pub,
    relayAddr: "11.0.0.1",
    homes,
    exec: (ns) => ["ip", "netns", "exec", ns],
    lan() {
      const [a, b] = [homes[0]!.ns, homes[1]!.ns];
      run("ip", "link", "add", `tl${tag}a`, "netns", a, "type", "veth", "peer", "name", `tl${tag}b`, "netns", b);
      run("ip", "-n", a, "addr", "add", "10.99.0.1/24", "dev", `tl${tag}a`);
      run("ip", "-n", b, "addr", "add", "10.99.0.2/24", "dev", `tl${tag}b`);
      run("ip", "-n", a, "link", "set", `tl${tag}a`, "up");
      run("ip", "-n", b, "link", "set", `tl${tag}b`, "up");
      return { a: "10.99.0.1", b: "10.99.0.2", remove: () => run("ip", "-n", a, "link", "del", `tl${tag}a`) };
    },
    destroy() {
      for (const ns of all) Bun.spawnSync(["ip", "netns", "del", ns], { stderr: "ignore" });
    },
  };
  lab.destroy();
  try {
    run("ip", "netns", "add", pub);
    run("ip", "-n", pub, "link", "set", "lo", "up");
    // The relay's public address (on loopback: this kernel may lack the dummy link type).
    run("ip", "-n", pub, "addr", "add", "11.0.0.1/32", "dev", "lo");
    run("ip", "netns", "exec", pub, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    nats.forEach((kind, i) => {
      const n = i + 1;
      const router = name(`r${n}`);
      const home = name(`h${n}`);
      all.push(router, home);
      run("ip", "netns", "add", router);
      run("ip", "netns", "add", home);
      const wan = `${12 + i}.0.0.2`;
      // Internet side: pub <-> router WAN.
      run("ip", "link", "add", `tw${tag}${n}`, "netns", pub, "type", "veth", "peer", "name", "wan", "netns", router);
      run("ip", "-n", pub, "addr", "add", `${12 + i}.0.0.1/24`, "dev", `tw${tag}${n}`);
      run("ip", "-n", pub, "link", "set", `tw${tag}${n}`, "up");
      run("ip", "-n", router, "addr", "add", `${wan}/24`, "dev", "wan");
      run("ip", "-n", router, "link", "set", "wan", "up");
      run("ip", "-n", router, "link", "set", "lo", "up");
      run("ip", "-n", router, "route", "add", "default", "via", `${12 + i}.0.0.1`);
      // Home side: router LAN <-> home.
      run("ip", "link", "add", "lan", "netns", router, "type", "veth", "peer", "name", "eth0", "netns", home);
      run("ip", "-n", router, "addr", "add", `10.0.${n}.1/24`, "dev", "lan");
      run("ip", "-n", router, "link", "set", "lan", "up");
      run("ip", "-n", home, "addr", "add", `10.0.${n}.2/24`, "dev", "eth0");
      run("ip", "-n", home, "link", "set", "eth0", "up");
      run("ip", "-n", home, "link", "set", "lo", "up");
      run("ip", "-n", home, "route", "add", "default", "via", `10.0.${n}.1`);
      run("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
      // Cone: Linux keeps the source port when it can, so one socket keeps one public port for
      // every destination, and replies are let in (conntrack) only from where it sent to.
      // Symmetric: --random-fully picks a new public port per destination, so the port a peer
      // learns through the relay is not the one that reaches it.
      run("ip", "netns", "exec", router, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE", ...(kind === "symmetric" ? ["--random-fully"] : []));
      // Nothing unsolicited comes in from the internet, to the home or to the router itself (as on
      // a home router's firewall): a router that answered a peer's early hole-punching SYN itself
      // (RST) would keep that flow in conntrack, and its own later SYN would get another port.
      for (const chain of ["FORWARD", "INPUT"]) {
        run("ip", "netns", "exec", router, "iptables", "-A", chain, "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
        run("ip", "netns", "exec", router, "iptables", "-A", chain, "-i", "wan", "-j", "DROP");
      }
      homes.push({ ns: home, addr: `10.0.${n}.2`, wan, router });
    });
  } catch (err) {
    lab.destroy();
    throw err;
  }
  return lab;
}
