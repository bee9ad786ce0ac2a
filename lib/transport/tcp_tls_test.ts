import assert from "node:assert/strict";
import { addr, closeAll, endpoint } from "./_tcp_test_kit.ts";

interface Pki {
  ca: string;
  cert: string;
  key: string;
  otherCa: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A throw-away CA, a certificate for 127.0.0.1 signed by it, and an unrelated CA. */
async function makePki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "synod-tls-" });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for (const name of ["ca", "other-ca"]) {
      await openssl(
        dir,
        "req",
        "-x509",
        ...ec,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "1",
        "-subj",
        `/CN=${name}`,
      );
    }
    await openssl(
      dir,
      "req",
      ...ec,
      "-keyout",
      "node.key",
      "-out",
      "node.csr",
      "-subj",
      "/CN=127.0.0.1",
    );
    await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1\n");
    await openssl(
      dir,
      "x509",
      "-req",
      "-in",
      "node.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "node.pem",
      "-days",
      "1",
      "-extfile",
      "ext.cnf",
    );
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    return {
      ca: await read("ca.pem"),
      cert: await read("node.pem"),
      key: await read("node.key"),
      otherCa: await read("other-ca.pem"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

Deno.test({
  name:
    "TLS: peers with certificates from the configured CA talk; an untrusted CA gets nothing through",
  ignore: !hasOpenssl,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const pki = await makePki();
    const tls = { caCerts: [pki.ca], cert: pki.cert, key: pki.key };
    const a = endpoint("a", { tls });
    const b = endpoint("b", { tls, peers: { a: addr(a) } });
    a.t.setPeers({ b: addr(b) });
    const payload = Uint8Array.from({ length: 100_000 }, (_, i) => i & 0xff);
    const m = { kind: "server", message: { type: "events", payload } } as never;
    b.t.send("a", m);
    a.t.send("b", m);
    await a.signal.until(() => a.inbox.length === 1, "a's message over TLS");
    await b.signal.until(() => b.inbox.length === 1, "b's message over TLS");
    assert.deepEqual(a.inbox[0]!.message, m);
    assert.deepEqual(b.inbox[0]!.message, m);

    // A dialer that trusts another CA refuses a's certificate: nothing is sent.
    const stranger = endpoint("stranger", {
      port: undefined,
      tls: { caCerts: [pki.otherCa] },
      peers: { a: addr(a) },
    });
    stranger.t.send("a", m);
    await stranger.signal.until(() => stranger.t.stats.dialFailures >= 1, "the TLS failure");
    assert.ok(
      stranger.logs.some((l) => /certificate|UnknownIssuer|invalid peer/i.test(l)),
      stranger.logs.join("\n"),
    );
    // A plain TCP dialer does not get through a TLS listener either.
    const plain = endpoint("plain", { port: undefined, peers: { a: addr(a) } });
    plain.t.send("a", m);
    await plain.signal.until(
      () => plain.events.some((e) => e.type === "refused"),
      "plain's failure",
    );
    assert.equal(a.inbox.length, 1);
    await closeAll(a, b, stranger, plain);
  },
});
