/**
 * An ordered set of string keys: a B+tree with small nodes, for the Kv service's key order.
 * Insert and delete are O(log n) (plus a splice within one node of at most
 * `nodeMax`, default {@linkcode ORDERED_KEYS_NODE_MAX}, keys); a range scan finds its first key in O(log n) and then
 * walks the leaves, which are linked both ways, forward or in reverse.
 *
 * Keys compare as JS strings (UTF-16 code units): the Kv service stores byte strings as binary
 * strings (one char per byte), so this order is byte order. No randomness, no hashing: the same
 * operations build the same tree on every member.
 *
 * Invariants (checked by `check()` in the tests): every leaf is at the same depth; every node
 * but the root holds between `nodeMax / 2` and `nodeMax` keys (leaves) or children (inner
 * nodes); in an inner node,
 * `keys[i]` is greater than every key under `children[i]` and at most every key under
 * `children[i + 1]`; leaves hold keys in strictly increasing order, and their links visit them
 * all in order.
 *
 * Private to lib/primitives.
 *
 * @module
 */

/** Default most keys in a leaf, and most children of an inner node. */
export const ORDERED_KEYS_NODE_MAX = 64;

interface Leaf {
  readonly leaf: true;
  keys: string[];
  prev: Leaf | null;
  next: Leaf | null;
}

interface Inner {
  readonly leaf: false;
  /** Separators: `keys.length === children.length - 1`. */
  keys: string[];
  children: Node[];
}

type Node = Leaf | Inner;

/** First position whose key is ≥ `k` in sorted `keys`. */
export function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First position whose key is > `k`: in an inner node, the child whose range holds `k`. */
function upperBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const newLeaf = (keys: string[]): Leaf => ({ leaf: true, keys, prev: null, next: null });

/** An ordered set of strings (a B+tree); see the module's comment. */
export class OrderedKeys {
  readonly #max: number;
  readonly #min: number;
  #root: Node = newLeaf([]);
  #size = 0;

  /**
   * An empty set.
   *
   * @param nodeMax Most keys in a leaf and children in an inner node (small in tests, to grow
   *   deep trees from few keys).
   * @throws {RangeError} If `nodeMax` is not an integer ≥ 4.
   */
  constructor(nodeMax: number = ORDERED_KEYS_NODE_MAX) {
    if (!Number.isSafeInteger(nodeMax) || nodeMax < 4) {
      throw new RangeError(
        `Cannot create OrderedKeys as 'nodeMax' must be an integer ≥ 4: current value is ${nodeMax}`,
      );
    }
    this.#max = nodeMax;
    this.#min = nodeMax >>> 1;
  }

  /** How many keys it holds. */
  get size(): number {
    return this.#size;
  }

  /**
   * A set holding `keys`, built bottom-up (O(n)).
   *
   * @param keys Distinct keys; sorted here if they are not in increasing order.
   * @param nodeMax As the constructor's.
   * @returns The set.
   * @throws {TypeError} If a key appears twice.
   */
  static from(keys: readonly string[], nodeMax: number = ORDERED_KEYS_NODE_MAX): OrderedKeys {
    let sorted = keys;
    for (let i = 1; i < keys.length; i++) {
      if (keys[i - 1]! >= keys[i]!) {
        sorted = [...keys].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
        break;
      }
    }
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i - 1] === sorted[i]) {
        throw new TypeError(`Cannot build ordered keys as a key appears twice`);
      }
    }
    const set = new OrderedKeys(nodeMax);
    set.#size = sorted.length;
    if (sorted.length === 0) return set;
    // Nodes three quarters full: room to grow and to shrink before a split or a merge.
    const fill = (nodeMax * 3) >>> 2;
    const chunks = (n: number) => runs(n, fill, set.#min);
    let level: Node[] = [];
    let firsts: string[] = [];
    let prev: Leaf | null = null;
    for (const part of chunks(sorted.length)) {
      const leaf = newLeaf(sorted.slice(part.start, part.end));
      leaf.prev = prev;
      if (prev !== null) prev.next = leaf;
      prev = leaf;
      level.push(leaf);
      firsts.push(leaf.keys[0]!);
    }
    while (level.length > 1) {
      const up: Node[] = [];
      const upFirsts: string[] = [];
      for (const part of chunks(level.length)) {
        up.push({
          leaf: false,
          keys: firsts.slice(part.start + 1, part.end),
          children: level.slice(part.start, part.end),
        });
        upFirsts.push(firsts[part.start]!);
      }
      level = up;
      firsts = upFirsts;
    }
    set.#root = level[0]!;
    return set;
  }

  /**
   * Whether it holds `k`.
   *
   * @param k A key.
   * @returns Whether it is in the set.
   */
  has(k: string): boolean {
    const leaf = this.#leafOf(k);
    const p = lowerBound(leaf.keys, k);
    return leaf.keys[p] === k;
  }

  /** The leaf where `k` belongs, and the inner nodes above it with the child taken in each. */
  #descend(k: string): { path: { node: Inner; at: number }[]; leaf: Leaf } {
    const path: { node: Inner; at: number }[] = [];
    let node = this.#root;
    while (!node.leaf) {
      const at = upperBound(node.keys, k);
      path.push({ node, at });
      node = node.children[at]!;
    }
    return { path, leaf: node };
  }

  /**
   * Adds a key.
   *
   * @param k The key.
   * @returns Whether it was added (false: already there).
   */
  add(k: string): boolean {
    const { path, leaf: node } = this.#descend(k);
    const p = lowerBound(node.keys, k);
    if (node.keys[p] === k) return false;
    node.keys.splice(p, 0, k);
    this.#size++;
    // Splits go up the path while a node is over its bound.
    let split: { separator: string; right: Node } | null = node.keys.length > this.#max
      ? splitLeaf(node)
      : null;
    while (split !== null) {
      const parent = path.pop();
      if (parent === undefined) {
        this.#root = { leaf: false, keys: [split.separator], children: [this.#root, split.right] };
        break;
      }
      parent.node.keys.splice(parent.at, 0, split.separator);
      parent.node.children.splice(parent.at + 1, 0, split.right);
      split = parent.node.children.length > this.#max ? splitInner(parent.node) : null;
    }
    return true;
  }

  /**
   * Removes a key.
   *
   * @param k The key.
   * @returns Whether it was there.
   */
  delete(k: string): boolean {
    const { path, leaf: node } = this.#descend(k);
    const p = lowerBound(node.keys, k);
    if (node.keys[p] !== k) return false;
    node.keys.splice(p, 1);
    this.#size--;
    // Underflows are mended going up: borrow from a sibling, or merge with it.
    let child: Node = node;
    for (let level = path.length - 1; level >= 0; level--) {
      if (width(child) >= this.#min) return true;
      const { node: parent, at } = path[level]!;
      rebalance(parent, at, this.#min);
      child = parent;
    }
    // The root: an inner root left with one child gives way to it.
    if (!this.#root.leaf && this.#root.children.length === 1) this.#root = this.#root.children[0]!;
    return true;
  }

  /**
   * The keys `start ≤ k < end`, in increasing order, or decreasing if `reverse`.
   *
   * @param start First key (included).
   * @param end Last key (excluded).
   * @param reverse From `end` down.
   * @returns The keys, lazily.
   */
  *range(start: string, end: string, reverse = false): Generator<string> {
    if (start >= end) return;
    if (!reverse) {
      let leaf: Leaf | null = this.#leafOf(start);
      let p = lowerBound(leaf.keys, start);
      while (leaf !== null) {
        for (; p < leaf.keys.length; p++) {
          const k = leaf.keys[p]!;
          if (k >= end) return;
          yield k;
        }
        leaf = leaf.next;
        p = 0;
      }
      return;
    }
    let leaf: Leaf | null = this.#leafOf(end);
    let p = lowerBound(leaf.keys, end) - 1;
    while (leaf !== null) {
      for (; p >= 0; p--) {
        const k = leaf.keys[p]!;
        if (k < start) return;
        yield k;
      }
      leaf = leaf.prev;
      p = leaf === null ? -1 : leaf.keys.length - 1;
    }
  }

  /**
   * Every key, in increasing order.
   *
   * @returns A new array.
   */
  toArray(): string[] {
    const out: string[] = [];
    let node = this.#root;
    while (!node.leaf) node = node.children[0]!;
    for (let leaf: Leaf | null = node; leaf !== null; leaf = leaf.next) out.push(...leaf.keys);
    return out;
  }

  /**
   * Checks every invariant of the module's comment (for tests).
   *
   * @throws {Error} Naming the first invariant that does not hold.
   */
  check(): void {
    const fail = (what: string): never => {
      throw new Error(`OrderedKeys invariant: ${what}`);
    };
    const leaves: Leaf[] = [];
    let depth = -1;
    const walk = (node: Node, lo: string | null, hi: string | null, d: number, root: boolean) => {
      const n = width(node);
      if (n > this.#max) fail(`a node of ${n} > ${this.#max}`);
      if (!root && n < this.#min) fail(`a node of ${n} < ${this.#min}`);
      for (let i = 1; i < node.keys.length; i++) {
        if (node.keys[i - 1]! >= node.keys[i]!) fail("keys out of order in a node");
      }
      if (node.leaf) {
        if (depth === -1) depth = d;
        if (depth !== d) fail("leaves at different depths");
        for (const k of node.keys) {
          if ((lo !== null && k < lo) || (hi !== null && k >= hi)) fail("a key outside its range");
        }
        leaves.push(node);
        return;
      }
      if (node.keys.length !== node.children.length - 1) fail("separators ≠ children - 1");
      if (root && node.children.length < 2) fail("an inner root with one child");
      node.children.forEach((c, i) =>
        walk(
          c,
          i === 0 ? lo : node.keys[i - 1]!,
          i === node.keys.length ? hi : node.keys[i]!,
          d + 1,
          false,
        )
      );
    };
    walk(this.#root, null, null, 0, true);
    leaves.forEach((leaf, i) => {
      if (leaf.prev !== (leaves[i - 1] ?? null)) fail("a broken prev link");
      if (leaf.next !== (leaves[i + 1] ?? null)) fail("a broken next link");
    });
    const count = leaves.reduce((n, l) => n + l.keys.length, 0);
    if (count !== this.#size) fail(`size ${this.#size} but ${count} keys`);
  }

  /** The leaf whose range holds `k`. */
  #leafOf(k: string): Leaf {
    let node = this.#root;
    while (!node.leaf) node = node.children[upperBound(node.keys, k)]!;
    return node;
  }
}

/** Keys of a leaf, children of an inner node. */
function width(node: Node): number {
  return node.leaf ? node.keys.length : node.children.length;
}

/**
 * `n` items cut into runs of about `fill`, none below `min` (one run if `n` is below it: the
 * root's) nor above `2 · min`.
 */
function runs(n: number, fill: number, min: number): { start: number; end: number }[] {
  const count = Math.min(Math.max(1, Math.ceil(n / fill)), Math.max(1, Math.floor(n / min)));
  const out: { start: number; end: number }[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ start: Math.floor((i * n) / count), end: Math.floor(((i + 1) * n) / count) });
  }
  return out;
}

function splitLeaf(leaf: Leaf): { separator: string; right: Node } {
  const half = leaf.keys.length >>> 1;
  const right = newLeaf(leaf.keys.splice(half));
  right.next = leaf.next;
  right.prev = leaf;
  if (leaf.next !== null) leaf.next.prev = right;
  leaf.next = right;
  return { separator: right.keys[0]!, right };
}

function splitInner(node: Inner): { separator: string; right: Node } {
  const half = node.children.length >>> 1;
  const children = node.children.splice(half);
  // The left half keeps `half` children and `half - 1` separators; the next separator moves up.
  const keys = node.keys.splice(half - 1);
  const separator = keys.shift()!;
  return { separator, right: { leaf: false, keys, children } };
}

/** Mends `parent.children[at]`, below the minimum: borrows from a sibling, or merges. */
function rebalance(parent: Inner, at: number, min: number): void {
  const child = parent.children[at]!;
  const left = at > 0 ? parent.children[at - 1]! : null;
  const right = at + 1 < parent.children.length ? parent.children[at + 1]! : null;
  if (left !== null && width(left) > min) {
    if (child.leaf) {
      child.keys.unshift((left as Leaf).keys.pop()!);
      parent.keys[at - 1] = child.keys[0]!;
    } else {
      const l = left as Inner;
      child.keys.unshift(parent.keys[at - 1]!);
      child.children.unshift(l.children.pop()!);
      parent.keys[at - 1] = l.keys.pop()!;
    }
    return;
  }
  if (right !== null && width(right) > min) {
    if (child.leaf) {
      child.keys.push((right as Leaf).keys.shift()!);
      parent.keys[at] = right.keys[0]!;
    } else {
      const r = right as Inner;
      child.keys.push(parent.keys[at]!);
      child.children.push(r.children.shift()!);
      parent.keys[at] = r.keys.shift()!;
    }
    return;
  }
  // Both siblings (or the one there is) are at the minimum: merge with one.
  const [l, r, sep] = left !== null ? [left, child, at - 1] : [child, right!, at];
  if (l.leaf) {
    const rl = r as Leaf;
    l.keys.push(...rl.keys);
    l.next = rl.next;
    if (rl.next !== null) rl.next.prev = l;
  } else {
    const ri = r as Inner;
    l.keys.push(parent.keys[sep]!, ...ri.keys);
    l.children.push(...ri.children);
  }
  parent.keys.splice(sep, 1);
  parent.children.splice(sep + 1, 1);
}
