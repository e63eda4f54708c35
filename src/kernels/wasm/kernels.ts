// AssemblyScript source of the WebAssembly SIMD kernels (compiled by `npm run build:wasm`,
// not by tsc). Two builds come from this one file: plain SIMD128 and SIMD + relaxed SIMD,
// where every multiply-add becomes a fused `f32x4.relaxed_madd` / `f64x2.relaxed_madd`.
//
// Conventions: every pointer is a byte address in the (imported, shared) linear memory;
// matrices are row-major; sizes are element counts. Kernels never allocate: scratch space
// is passed in by the caller. Vector loads may read up to 12 bytes past the end of a row
// (the values are masked to zero); the allocator on the JavaScript side keeps a guard
// band at the top of memory so such reads never leave it.

// ---------------------------------------------------------------------------------------
// helpers

@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

@inline function madd64(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f64x2.relaxed_madd(a, b, c);
  return f64x2.add(f64x2.mul(a, b), c);
}

/** Horizontal sums of four vectors: `[Σv0, Σv1, Σv2, Σv3]`. */
@inline function hsum4(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  const s01 = f32x4.add(v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), v128.shuffle<f32>(v0, v1, 2, 6, 3, 7));
  const s23 = f32x4.add(v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), v128.shuffle<f32>(v2, v3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(s01, s23, 0, 1, 4, 5), v128.shuffle<f32>(s01, s23, 2, 3, 6, 7));
}

/** Lane mask selecting the first `rem` (0..3) lanes. */
@inline function tailMask(rem: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(rem));
}

/** Stores lanes `0..nc-1` of `v` at `p` (f32). */
@inline function storePartial(p: usize, v: v128, nc: i32): void {
  if (nc >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (nc > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (nc > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Adds lanes `0..nc-1` of `v` to the floats at `p`. */
@inline function addPartial(p: usize, v: v128, nc: i32): void {
  store<f32>(p, load<f32>(p) + f32x4.extract_lane(v, 0));
  if (nc > 1) store<f32>(p, load<f32>(p, 4) + f32x4.extract_lane(v, 1), 4);
  if (nc > 2) store<f32>(p, load<f32>(p, 8) + f32x4.extract_lane(v, 2), 8);
}

/**
 * exp(s) for s <= 80 (lanes below -87 give ~1e-38): 2^(s·log2 e) with the integer part in
 * the exponent bits and a degree-5 minimax polynomial for 2^f, f in [-1/2, 1/2]. Relative
 * error about 2.3e-7 plus |s|·6e-8 (rounding of s·log2 e, which weighs only the small terms
 * of a sum). 14 vector operations; `f32x4.pmax` is one instruction where `f32x4.max` is
 * eight (NaN and signed-zero rules).
 */
@inline function expv(s0: v128): v128 {
  const s = f32x4.pmax(s0, f32x4.splat(-87.0));
  // round(s·log2 e) by the 1.5·2^23 trick: the integer lands in the low mantissa bits of t
  const t = madd(s, f32x4.splat(1.44269504088896341), f32x4.splat(12582912.0));
  const nn = f32x4.sub(f32x4.splat(12582912.0), t); // -round(s·log2 e)
  const f = madd(s, f32x4.splat(1.44269504088896341), nn);
  let p = madd(f32x4.splat(1.327647129073739e-3), f, f32x4.splat(9.675541892647743e-3));
  p = madd(p, f, f32x4.splat(5.550713092088699e-2));
  p = madd(p, f, f32x4.splat(2.4022120237350464e-1));
  p = madd(p, f, f32x4.splat(6.931469440460205e-1));
  p = madd(p, f, f32x4.splat(1.0000001192092896));
  // 2^n: (bits(t) << 23) == n << 23 because bits(t) = 0x4B400000 + n and 0x4B400000 << 23 == 0 (mod 2^32)
  const e = i32x4.add(i32x4.shl(t, 23), i32x4.splat(127 << 23));
  return f32x4.mul(p, e);
}

// ---------------------------------------------------------------------------------------
// register-blocked microkernels: dot products along d (f32x4 lanes), then a transposed
// horizontal reduction. `d4` is the byte length of the whole-vector part of a row.

/**
 * 2 rows × 4 rows of dots (8 accumulators + 4 loaded rows fit the 16 SIMD registers of
 * x86-64; a 4×4 block spills and measured ~25% slower); stores `nr × nc` results at
 * `out + i*ldo` (ldo in bytes).
 */
@inline function mk2x4(
  a0: usize, a1: usize,
  c0: usize, c1: usize, c2: usize, c3: usize,
  d4: usize, mask: v128, hasTail: bool,
  out: usize, ldo: usize, nr: i32, nc: i32,
): void {
  let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s02 = f32x4.splat(0), s03 = f32x4.splat(0);
  let s10 = f32x4.splat(0), s11 = f32x4.splat(0), s12 = f32x4.splat(0), s13 = f32x4.splat(0);
  for (let k: usize = 0; k < d4; k += 16) {
    const x0 = v128.load(c0 + k), x1 = v128.load(c1 + k), x2 = v128.load(c2 + k), x3 = v128.load(c3 + k);
    let q = v128.load(a0 + k);
    s00 = madd(q, x0, s00); s01 = madd(q, x1, s01); s02 = madd(q, x2, s02); s03 = madd(q, x3, s03);
    q = v128.load(a1 + k);
    s10 = madd(q, x0, s10); s11 = madd(q, x1, s11); s12 = madd(q, x2, s12); s13 = madd(q, x3, s13);
  }
  if (hasTail) {
    const x0 = v128.and(v128.load(c0 + d4), mask), x1 = v128.and(v128.load(c1 + d4), mask);
    const x2 = v128.and(v128.load(c2 + d4), mask), x3 = v128.and(v128.load(c3 + d4), mask);
    let q = v128.and(v128.load(a0 + d4), mask);
    s00 = madd(q, x0, s00); s01 = madd(q, x1, s01); s02 = madd(q, x2, s02); s03 = madd(q, x3, s03);
    q = v128.and(v128.load(a1 + d4), mask);
    s10 = madd(q, x0, s10); s11 = madd(q, x1, s11); s12 = madd(q, x2, s12); s13 = madd(q, x3, s13);
  }
  storePartial(out, hsum4(s00, s01, s02, s03), nc);
  if (nr > 1) storePartial(out + ldo, hsum4(s10, s11, s12, s13), nc);
}

/** 1 row × 4 rows of dots; stores `nc` results at `out`. */
@inline function mk1x4(
  a0: usize, c0: usize, c1: usize, c2: usize, c3: usize,
  d4: usize, mask: v128, hasTail: bool, out: usize, nc: i32,
): void {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let t0 = f32x4.splat(0), t1 = f32x4.splat(0), t2 = f32x4.splat(0), t3 = f32x4.splat(0);
  let k: usize = 0;
  for (; k + 16 < d4; k += 32) {
    let q = v128.load(a0 + k);
    s0 = madd(q, v128.load(c0 + k), s0); s1 = madd(q, v128.load(c1 + k), s1);
    s2 = madd(q, v128.load(c2 + k), s2); s3 = madd(q, v128.load(c3 + k), s3);
    q = v128.load(a0 + k + 16);
    t0 = madd(q, v128.load(c0 + k + 16), t0); t1 = madd(q, v128.load(c1 + k + 16), t1);
    t2 = madd(q, v128.load(c2 + k + 16), t2); t3 = madd(q, v128.load(c3 + k + 16), t3);
  }
  for (; k < d4; k += 16) {
    const q = v128.load(a0 + k);
    s0 = madd(q, v128.load(c0 + k), s0); s1 = madd(q, v128.load(c1 + k), s1);
    s2 = madd(q, v128.load(c2 + k), s2); s3 = madd(q, v128.load(c3 + k), s3);
  }
  if (hasTail) {
    const q = v128.and(v128.load(a0 + d4), mask);
    s0 = madd(q, v128.and(v128.load(c0 + d4), mask), s0); s1 = madd(q, v128.and(v128.load(c1 + d4), mask), s1);
    s2 = madd(q, v128.and(v128.load(c2 + d4), mask), s2); s3 = madd(q, v128.and(v128.load(c3 + d4), mask), s3);
  }
  storePartial(out, hsum4(f32x4.add(s0, t0), f32x4.add(s1, t1), f32x4.add(s2, t2), f32x4.add(s3, t3)), nc);
}

/** Class rows per cache block of the blocked products (64 rows × d floats). */
const CBLOCK: i32 = 64;

/** `out[i*ldo + j] = a[i,:]·c[j,:]` for the tile `i < aRows`, `j < cRows` (ldo in elements). */
function tileNT(a: usize, aRows: i32, c: usize, cRows: i32, d: i32, out: usize, ldo: i32): void {
  const rowB = <usize>d << 2;
  const d4 = <usize>(d & ~3) << 2;
  const rem = d & 3;
  const mask = tailMask(rem);
  const hasTail = rem != 0;
  const ldoB = <usize>ldo << 2;
  // A block of CBLOCK class rows stays in L1/L2 while every pair of query rows passes over it;
  // each pair writes whole cache lines of its output rows.
  for (let j0 = 0; j0 < cRows; j0 += CBLOCK) {
    const j1 = min(j0 + CBLOCK, cRows);
    for (let i = 0; i < aRows; i += 2) {
      const nr = min(2, aRows - i);
      const a0 = a + <usize>i * rowB;
      const a1 = nr > 1 ? a0 + rowB : a0;
      const o = out + <usize>i * ldoB;
      for (let j = j0; j < j1; j += 4) {
        const nc = min(4, j1 - j);
        const c0 = c + <usize>j * rowB;
        const c1 = nc > 1 ? c0 + rowB : c0;
        const c2 = nc > 2 ? c0 + 2 * rowB : c0;
        const c3 = nc > 3 ? c0 + 3 * rowB : c0;
        mk2x4(a0, a1, c0, c1, c2, c3, d4, mask, hasTail, o + (<usize>j << 2), ldoB, nr, nc);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// exported kernels

/** `out[i*ldo + j] = a[i,:]·c[j,:]`, `i < aRows`, `j < cRows` (ldo in elements). */
export function matmulNT(a: usize, aRows: i32, c: usize, cRows: i32, d: i32, out: usize, ldo: i32): void {
  tileNT(a, aRows, c, cRows, d, out, ldo);
}

/**
 * Dots of query rows with bucket rows, bucket by bucket: group `g` takes the query rows
 * `qRows[gOff[g] .. gOff[g+1])` of `q` (`d` floats each) and the class rows
 * `ids[gA[g] .. gA[g] + gSize[g])` of `c`, and writes their `cnt × size` dots (row-major) at
 * `out`, groups one after another (one call for all the buckets a batch of queries touches).
 * Every dot is that of `gatherDot` with `shared` (same micro-kernel, same order of operations),
 * bit for bit.
 */
export function bucketDots(
  q: usize, d: i32, c: usize, ids: usize, groups: i32, qRows: usize, gOff: usize, gA: usize, gSize: usize, out: usize,
): void {
  const rowB = <usize>d << 2;
  const d4 = <usize>(d & ~3) << 2;
  const rem = d & 3;
  const mask = tailMask(rem);
  const hasTail = rem != 0;
  let o = out;
  for (let g = 0; g < groups; g++) {
    const r0 = load<i32>(gOff + (<usize>g << 2));
    const rows = load<i32>(gOff + (<usize>g << 2), 4) - r0;
    const a = load<i32>(gA + (<usize>g << 2));
    const m = load<i32>(gSize + (<usize>g << 2));
    if (rows <= 0 || m <= 0) continue;
    const ip = ids + (<usize>a << 2);
    const ldoB = <usize>m << 2;
    const rp = qRows + (<usize>r0 << 2);
    for (let j = 0; j < m; j += 4) {
      const nc = min(4, m - j);
      const c0 = c + <usize>load<i32>(ip + (<usize>j << 2)) * rowB;
      const c1 = nc > 1 ? c + <usize>load<i32>(ip + (<usize>j << 2), 4) * rowB : c0;
      const c2 = nc > 2 ? c + <usize>load<i32>(ip + (<usize>j << 2), 8) * rowB : c0;
      const c3 = nc > 3 ? c + <usize>load<i32>(ip + (<usize>j << 2), 12) * rowB : c0;
      for (let i = 0; i < rows; i += 2) {
        const nr = min(2, rows - i);
        const a0 = q + <usize>load<i32>(rp + (<usize>i << 2)) * rowB;
        const a1 = nr > 1 ? q + <usize>load<i32>(rp + (<usize>i << 2), 4) * rowB : a0;
        mk2x4(a0, a1, c0, c1, c2, c3, d4, mask, hasTail, o + <usize>i * ldoB + (<usize>j << 2), ldoB, nr, nc);
      }
    }
    o += <usize>rows * ldoB;
  }
}

/**
 * `out[i*m + j] = a[i,:]·c[ids[r*m + j],:]` with `r = i`, or `r = 0` when `shared != 0`.
 */
export function gatherDot(a: usize, rows: i32, c: usize, d: i32, ids: usize, m: i32, shared: i32, out: usize): void {
  const rowB = <usize>d << 2;
  const d4 = <usize>(d & ~3) << 2;
  const rem = d & 3;
  const mask = tailMask(rem);
  const hasTail = rem != 0;
  const ldoB = <usize>m << 2;
  if (shared != 0) {
    for (let j = 0; j < m; j += 4) {
      const nc = min(4, m - j);
      const ip = ids + (<usize>j << 2);
      const c0 = c + <usize>load<i32>(ip) * rowB;
      const c1 = nc > 1 ? c + <usize>load<i32>(ip, 4) * rowB : c0;
      const c2 = nc > 2 ? c + <usize>load<i32>(ip, 8) * rowB : c0;
      const c3 = nc > 3 ? c + <usize>load<i32>(ip, 12) * rowB : c0;
      for (let i = 0; i < rows; i += 2) {
        const nr = min(2, rows - i);
        const a0 = a + <usize>i * rowB;
        const a1 = nr > 1 ? a0 + rowB : a0;
        mk2x4(a0, a1, c0, c1, c2, c3, d4, mask, hasTail, out + <usize>i * ldoB + (<usize>j << 2), ldoB, nr, nc);
      }
    }
    return;
  }
  for (let i = 0; i < rows; i++) {
    const a0 = a + <usize>i * rowB;
    const io = ids + <usize>i * ldoB;
    const oo = out + <usize>i * ldoB;
    for (let j = 0; j < m; j += 4) {
      const nc = min(4, m - j);
      const ip = io + (<usize>j << 2);
      const c0 = c + <usize>load<i32>(ip) * rowB;
      const c1 = nc > 1 ? c + <usize>load<i32>(ip, 4) * rowB : c0;
      const c2 = nc > 2 ? c + <usize>load<i32>(ip, 8) * rowB : c0;
      const c3 = nc > 3 ? c + <usize>load<i32>(ip, 12) * rowB : c0;
      mk1x4(a0, c0, c1, c2, c3, d4, mask, hasTail, oo + (<usize>j << 2), nc);
    }
  }
}

/**
 * Row accumulation for 4 output rows: `o_r[:] += Σ_s w_r(s) · x_s[:]` where
 * `w_r(s) = f32 at g_r + s*gsS` and `x_s` is row `xIdx ? ids[s] : s` of `x`.
 */
@inline function accum4(
  o0: usize, o1: usize, o2: usize, o3: usize,
  g0: usize, g1: usize, g2: usize, g3: usize, gsS: usize,
  x: usize, xIdx: usize, S: i32, d: i32,
): void {
  const rowB = <usize>d << 2;
  const d8 = <usize>(d & ~7) << 2;
  let k: usize = 0;
  for (; k < d8; k += 32) {
    let p0 = v128.load(o0 + k), q0 = v128.load(o0 + k + 16);
    let p1 = v128.load(o1 + k), q1 = v128.load(o1 + k + 16);
    let p2 = v128.load(o2 + k), q2 = v128.load(o2 + k + 16);
    let p3 = v128.load(o3 + k), q3 = v128.load(o3 + k + 16);
    for (let s = 0; s < S; s++) {
      const xr = x + (xIdx != 0 ? <usize>load<i32>(xIdx + (<usize>s << 2)) : <usize>s) * rowB + k;
      const x0 = v128.load(xr), x1 = v128.load(xr, 16);
      const gs = <usize>s * gsS;
      let w = v128.load32_splat(g0 + gs);
      p0 = madd(w, x0, p0); q0 = madd(w, x1, q0);
      w = v128.load32_splat(g1 + gs);
      p1 = madd(w, x0, p1); q1 = madd(w, x1, q1);
      w = v128.load32_splat(g2 + gs);
      p2 = madd(w, x0, p2); q2 = madd(w, x1, q2);
      w = v128.load32_splat(g3 + gs);
      p3 = madd(w, x0, p3); q3 = madd(w, x1, q3);
    }
    v128.store(o0 + k, p0); v128.store(o0 + k + 16, q0);
    v128.store(o1 + k, p1); v128.store(o1 + k + 16, q1);
    v128.store(o2 + k, p2); v128.store(o2 + k + 16, q2);
    v128.store(o3 + k, p3); v128.store(o3 + k + 16, q3);
  }
  for (; k < rowB; k += 16) {
    const left = <i32>((rowB - k) >> 2);
    const mask = left >= 4 ? i32x4.splat(-1) : tailMask(left);
    let p0 = f32x4.splat(0), p1 = f32x4.splat(0), p2 = f32x4.splat(0), p3 = f32x4.splat(0);
    for (let s = 0; s < S; s++) {
      const xr = x + (xIdx != 0 ? <usize>load<i32>(xIdx + (<usize>s << 2)) : <usize>s) * rowB + k;
      const x0 = v128.and(v128.load(xr), mask);
      const gs = <usize>s * gsS;
      p0 = madd(v128.load32_splat(g0 + gs), x0, p0);
      p1 = madd(v128.load32_splat(g1 + gs), x0, p1);
      p2 = madd(v128.load32_splat(g2 + gs), x0, p2);
      p3 = madd(v128.load32_splat(g3 + gs), x0, p3);
    }
    if (left >= 4) {
      v128.store(o0 + k, f32x4.add(v128.load(o0 + k), p0));
      v128.store(o1 + k, f32x4.add(v128.load(o1 + k), p1));
      v128.store(o2 + k, f32x4.add(v128.load(o2 + k), p2));
      v128.store(o3 + k, f32x4.add(v128.load(o3 + k), p3));
    } else {
      addPartial(o0 + k, p0, left);
      addPartial(o1 + k, p1, left);
      addPartial(o2 + k, p2, left);
      addPartial(o3 + k, p3, left);
    }
  }
}

/** One-output-row version of {@link accum4}. */
@inline function accum1(o0: usize, g0: usize, gsS: usize, x: usize, xIdx: usize, S: i32, d: i32): void {
  const rowB = <usize>d << 2;
  const d16 = <usize>(d & ~15) << 2;
  let k: usize = 0;
  for (; k < d16; k += 64) {
    let p0 = v128.load(o0 + k), p1 = v128.load(o0 + k + 16), p2 = v128.load(o0 + k + 32), p3 = v128.load(o0 + k + 48);
    for (let s = 0; s < S; s++) {
      const xr = x + (xIdx != 0 ? <usize>load<i32>(xIdx + (<usize>s << 2)) : <usize>s) * rowB + k;
      const w = v128.load32_splat(g0 + <usize>s * gsS);
      p0 = madd(w, v128.load(xr), p0);
      p1 = madd(w, v128.load(xr, 16), p1);
      p2 = madd(w, v128.load(xr, 32), p2);
      p3 = madd(w, v128.load(xr, 48), p3);
    }
    v128.store(o0 + k, p0); v128.store(o0 + k + 16, p1); v128.store(o0 + k + 32, p2); v128.store(o0 + k + 48, p3);
  }
  for (; k < rowB; k += 16) {
    const left = <i32>((rowB - k) >> 2);
    const mask = left >= 4 ? i32x4.splat(-1) : tailMask(left);
    let p0 = f32x4.splat(0);
    for (let s = 0; s < S; s++) {
      const xr = x + (xIdx != 0 ? <usize>load<i32>(xIdx + (<usize>s << 2)) : <usize>s) * rowB + k;
      p0 = madd(v128.load32_splat(g0 + <usize>s * gsS), v128.and(v128.load(xr), mask), p0);
    }
    if (left >= 4) v128.store(o0 + k, f32x4.add(v128.load(o0 + k), p0));
    else addPartial(o0 + k, p0, left);
  }
}

/**
 * Dense row accumulation `out[r,:] += Σ_s g[r*gsR + s*gsS] · x[s,:]` for `r < R`, `s < S`
 * (strides in elements). accumGradQueries is `(outH, rows, g, cRows, 1, c, cRows, d)`;
 * accumGradClasses is `(outC, cRows, g, 1, cRows, h, rows, d)`.
 */
export function accumRows(out: usize, R: i32, g: usize, gsR: i32, gsS: i32, x: usize, S: i32, d: i32): void {
  const rowB = <usize>d << 2;
  const gR = <usize>gsR << 2;
  const gS = <usize>gsS << 2;
  let r = 0;
  for (; r + 4 <= R; r += 4) {
    const o0 = out + <usize>r * rowB;
    const g0 = g + <usize>r * gR;
    accum4(o0, o0 + rowB, o0 + 2 * rowB, o0 + 3 * rowB, g0, g0 + gR, g0 + 2 * gR, g0 + 3 * gR, gS, x, 0, S, d);
  }
  for (; r < R; r++) accum1(out + <usize>r * rowB, g + <usize>r * gR, gS, x, 0, S, d);
}

/**
 * `out[i,:] += Σ_j g[i*m + j] · c[ids[r*m + j],:]` with `r = i`, or `r = 0` when shared
 * (gradient w.r.t. the queries of gathered logits).
 */
export function gatherAccumRows(out: usize, rows: i32, g: usize, c: usize, d: i32, ids: usize, m: i32, shared: i32): void {
  const rowB = <usize>d << 2;
  const gR = <usize>m << 2;
  let i = 0;
  if (shared != 0) {
    for (; i + 4 <= rows; i += 4) {
      const o0 = out + <usize>i * rowB;
      const g0 = g + <usize>i * gR;
      accum4(o0, o0 + rowB, o0 + 2 * rowB, o0 + 3 * rowB, g0, g0 + gR, g0 + 2 * gR, g0 + 3 * gR, 4, c, ids, m, d);
    }
  }
  for (; i < rows; i++) {
    accum1(out + <usize>i * rowB, g + <usize>i * gR, 4, c, shared != 0 ? ids : ids + <usize>i * gR, m, d);
  }
}

/**
 * Sparse scatter-add of gradient rows: `out[slots[r*m + j],:] += g[i*m + j] · h[i,:]` with
 * `r = i`, or `r = 0` when shared. `out` holds one row per distinct touched id.
 */
export function scatterAddRows(out: usize, g: usize, rows: i32, h: usize, d: i32, slots: usize, m: i32, shared: i32): void {
  const rowB = <usize>d << 2;
  const gR = <usize>m << 2;
  if (shared != 0) {
    // out[slot_j] += Σ_i g[i*m + j] h[i]: 4 slots at a time unless two of them coincide.
    let j = 0;
    for (; j + 4 <= m; j += 4) {
      const sp = slots + (<usize>j << 2);
      const t0 = load<i32>(sp), t1 = load<i32>(sp, 4), t2 = load<i32>(sp, 8), t3 = load<i32>(sp, 12);
      const g0 = g + (<usize>j << 2);
      if (t0 != t1 && t0 != t2 && t0 != t3 && t1 != t2 && t1 != t3 && t2 != t3) {
        accum4(out + <usize>t0 * rowB, out + <usize>t1 * rowB, out + <usize>t2 * rowB, out + <usize>t3 * rowB,
          g0, g0 + 4, g0 + 8, g0 + 12, gR, h, 0, rows, d);
      } else {
        accum1(out + <usize>t0 * rowB, g0, gR, h, 0, rows, d);
        accum1(out + <usize>t1 * rowB, g0 + 4, gR, h, 0, rows, d);
        accum1(out + <usize>t2 * rowB, g0 + 8, gR, h, 0, rows, d);
        accum1(out + <usize>t3 * rowB, g0 + 12, gR, h, 0, rows, d);
      }
    }
    for (; j < m; j++) {
      accum1(out + <usize>load<i32>(slots + (<usize>j << 2)) * rowB, g + (<usize>j << 2), gR, h, 0, rows, d);
    }
    return;
  }
  const d4 = <usize>(d & ~3) << 2;
  const rem = d & 3;
  for (let i = 0; i < rows; i++) {
    const hr = h + <usize>i * rowB;
    for (let j = 0; j < m; j++) {
      const e = <usize>i * gR + (<usize>j << 2);
      const w = v128.load32_splat(g + e);
      const o = out + <usize>load<i32>(slots + e) * rowB;
      for (let k: usize = 0; k < d4; k += 16) v128.store(o + k, madd(w, v128.load(hr + k), v128.load(o + k)));
      if (rem != 0) addPartial(o + d4, f32x4.mul(w, v128.and(v128.load(hr + d4), tailMask(rem))), rem);
    }
  }
}

// ---------------------------------------------------------------------------------------
// fused full-softmax evaluation: blocked product + online log-sum-exp + top-k per row

/** Candidate `(s, id)` ranks above `(s0, id0)`: larger score, ties by smaller id. */
@inline function better(s: f32, id: i32, s0: f32, id0: i32): bool {
  return s > s0 || (s == s0 && id < id0 && id0 >= 0) || (s == s0 && id0 < 0 && id >= 0);
}

/** Restores the min-heap (root = worst kept entry) after replacing the root. */
function siftDown(ids: usize, sc: usize, k: i32, pos: i32): void {
  const s = load<f32>(sc + (<usize>pos << 2));
  const id = load<i32>(ids + (<usize>pos << 2));
  for (;;) {
    let child = 2 * pos + 1;
    if (child >= k) break;
    let cs = load<f32>(sc + (<usize>child << 2));
    let cid = load<i32>(ids + (<usize>child << 2));
    if (child + 1 < k) {
      const rs = load<f32>(sc + (<usize>(child + 1) << 2));
      const rid = load<i32>(ids + (<usize>(child + 1) << 2));
      // pick the worse child
      if (better(cs, cid, rs, rid)) {
        child++;
        cs = rs;
        cid = rid;
      }
    }
    if (!better(s, id, cs, cid)) break;
    store<f32>(sc + (<usize>pos << 2), cs);
    store<i32>(ids + (<usize>pos << 2), cid);
    pos = child;
  }
  store<f32>(sc + (<usize>pos << 2), s);
  store<i32>(ids + (<usize>pos << 2), id);
}

/** Offers `(s, id)` to the size-`k` heap whose worst entry scores `thr`; returns the new worst score. */
@inline function heapOffer(s: f32, id: i32, hi: usize, hs: usize, k: i32, thr: f32): f32 {
  if (!better(s, id, thr, load<i32>(hi))) return thr;
  store<f32>(hs, s);
  store<i32>(hi, id);
  siftDown(hi, hs, k, 0);
  return load<f32>(hs);
}

/** Offers lanes `0..nl-1` of `v` (ids `id0 + lane`) to the heap; returns the new worst score. */
function heapOffer4(v: v128, id0: i32, nl: i32, hi: usize, hs: usize, k: i32, thr: f32): f32 {
  thr = heapOffer(f32x4.extract_lane(v, 0), id0, hi, hs, k, thr);
  if (nl > 1) thr = heapOffer(f32x4.extract_lane(v, 1), id0 + 1, hi, hs, k, thr);
  if (nl > 2) thr = heapOffer(f32x4.extract_lane(v, 2), id0 + 2, hi, hs, k, thr);
  if (nl > 3) thr = heapOffer(f32x4.extract_lane(v, 3), id0 + 3, hi, hs, k, thr);
  return thr;
}

@inline function lanesSum(v: v128): f64 {
  return <f64>(f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + <f64>(f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

@inline function lanesMax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/**
 * Transposes the 4 × 4 block `v0..v3` (rows of 4 consecutive k) and stores its column `j`
 * (the 4 rows' (k+j)-th elements) at `o + j·stride` for `j < left`.
 */
@inline function storeTransposed4(o: usize, stride: usize, v0: v128, v1: v128, v2: v128, v3: v128, left: i32): void {
  const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
  v128.store(o, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  if (left > 1) v128.store(o + stride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  if (left > 2) v128.store(o + 2 * stride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  if (left > 3) v128.store(o + 3 * stride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * Packs class rows `0..cn-1` of `c` for {@link op4x8}: groups of 8 rows, group `g` at
 * `dst + g·d·32` holding `[k][8]` (the 8 rows' k-th elements side by side). The last group is
 * completed with copies of its first row (their products are never read). Lanes past `d`
 * (read from the next row or the guard band) are not stored.
 */
function packClasses8(c: usize, cn: i32, d: i32, dst: usize): void {
  const rowB = <usize>d << 2;
  for (let g = 0; g < cn; g += 8) {
    const gd = dst + <usize>g * rowB;
    const nc = cn - g;
    const r0 = c + <usize>g * rowB;
    const r1 = nc > 1 ? r0 + rowB : r0, r2 = nc > 2 ? r0 + 2 * rowB : r0, r3 = nc > 3 ? r0 + 3 * rowB : r0;
    const r4 = nc > 4 ? r0 + 4 * rowB : r0, r5 = nc > 5 ? r0 + 5 * rowB : r0;
    const r6 = nc > 6 ? r0 + 6 * rowB : r0, r7 = nc > 7 ? r0 + 7 * rowB : r0;
    for (let k = 0; k < d; k += 4) {
      const kb = <usize>k << 2;
      const o = gd + (<usize>k << 5);
      storeTransposed4(o, 32, v128.load(r0 + kb), v128.load(r1 + kb), v128.load(r2 + kb), v128.load(r3 + kb), d - k);
      storeTransposed4(o + 16, 32, v128.load(r4 + kb), v128.load(r5 + kb), v128.load(r6 + kb), v128.load(r7 + kb), d - k);
    }
  }
}

/**
 * Packs rows `0..nr-1` of `a` for {@link op4x8}: groups of 4 rows, group at `dst + (r/4)·d·16`,
 * `[k][4]`; a last group of fewer rows is completed with copies of its first.
 */
function packRows4(a: usize, nr: i32, d: i32, dst: usize): void {
  const rowB = <usize>d << 2;
  for (let r = 0; r < nr; r += 4) {
    const gd = dst + <usize>r * rowB;
    const left = nr - r;
    const r0 = a + <usize>r * rowB;
    const r1 = left > 1 ? r0 + rowB : r0, r2 = left > 2 ? r0 + 2 * rowB : r0, r3 = left > 3 ? r0 + 3 * rowB : r0;
    for (let k = 0; k < d; k += 4) {
      const kb = <usize>k << 2;
      storeTransposed4(gd + (<usize>k << 4), 16, v128.load(r0 + kb), v128.load(r1 + kb), v128.load(r2 + kb), v128.load(r3 + kb), d - k);
    }
  }
}

/**
 * Outer-product micro-kernel: 4 packed query rows × 8 packed class rows. Per k it loads two
 * class vectors and splats 4 query scalars into 8 multiply-adds (8 accumulators, no horizontal
 * sums: each product is a sequential float32 sum over k). Stores `nr` (1..4) rows of 8 at
 * `out + r·ldo` (ldo in bytes).
 */
@inline function op4x8(ap: usize, cp: usize, d: i32, out: usize, ldo: usize, nr: i32): void {
  let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
  let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
  const end = cp + (<usize>d << 5);
  while (cp < end) {
    const x0 = v128.load(cp), x1 = v128.load(cp, 16);
    let w = v128.load32_splat(ap);
    s00 = madd(w, x0, s00); s01 = madd(w, x1, s01);
    w = v128.load32_splat(ap, 4);
    s10 = madd(w, x0, s10); s11 = madd(w, x1, s11);
    w = v128.load32_splat(ap, 8);
    s20 = madd(w, x0, s20); s21 = madd(w, x1, s21);
    w = v128.load32_splat(ap, 12);
    s30 = madd(w, x0, s30); s31 = madd(w, x1, s31);
    cp += 32;
    ap += 16;
  }
  v128.store(out, s00);
  v128.store(out, s01, 16);
  if (nr > 1) {
    v128.store(out + ldo, s10);
    v128.store(out + ldo, s11, 16);
  }
  if (nr > 2) {
    v128.store(out + 2 * ldo, s20);
    v128.store(out + 2 * ldo, s21, 16);
  }
  if (nr > 3) {
    v128.store(out + 3 * ldo, s30);
    v128.store(out + 3 * ldo, s31, 16);
  }
}

/** Class rows per block of the fused evaluator. */
const FBLOCK: i32 = 128;
/** Query rows per tile of the fused evaluator (each packed class block is reused by all rows, tile by tile). */
const FROWS: i32 = 32;
/**
 * A block's exps are taken relative to the running maximum of the earlier blocks; a block whose
 * maximum exceeds it by more than this is recomputed relative to its own (keeps the exp error,
 * which grows with |x - max|, small on the terms that dominate the sum).
 */
const REBASE: f32 = 16;

/** Scratch bytes {@link fusedSoftmaxTopK} needs for `rows` rows of dimension `d`. */
export function fusedScratchBytes(rows: i32, d: i32): i32 {
  // score tile, zero biases, packed class block, packed query tile, running (max, sum) per row
  return FROWS * FBLOCK * 4 + FBLOCK * 4 + FBLOCK * d * 4 + FROWS * d * 4 + rows * 16 + 128;
}

/**
 * Full-softmax evaluation without materializing the logits: for each row `i < rows`,
 * `outLse[i] = log Σ_j exp(a_i·c_j + b_j)` (f64) and the top-k `(id, score)` pairs,
 * descending, ties by smaller id; missing entries (k > n) are `(-1, -inf)`.
 * `bias` may be 0. `scratch` holds {@link fusedScratchBytes}(rows, d) bytes.
 *
 * Per block of FBLOCK classes, packed once for {@link op4x8}, and tile of FROWS queries (also
 * packed): the outer-product micro-kernel fills the score tile, then one pass per row adds the
 * bias, takes the block maximum, sums the exps relative to the running maximum and screens 4
 * logits at a time against the current k-th best score.
 */
export function fusedSoftmaxTopK(
  a: usize, rows: i32, c: usize, bias: usize, n: i32, d: i32, k: i32,
  outLse: usize, outIds: usize, outScores: usize, scratch: usize,
): void {
  if (rows <= 0) return;
  const rowB = <usize>d << 2;
  const kB = <usize>k << 2;
  const tile = scratch; // FROWS × FBLOCK scores
  const tileLd: usize = <usize>FBLOCK << 2;
  const zeros = scratch + <usize>FROWS * tileLd; // FBLOCK zero biases
  const packedC = (zeros + tileLd + 63) & ~<usize>63; // FBLOCK × d
  const packedA = packedC + <usize>FBLOCK * rowB; // FROWS × d
  const runMax = packedA + <usize>FROWS * rowB; // f64 per row
  const runSum = runMax + (<usize>rows << 3); // f64 per row
  for (let j = 0; j < FBLOCK; j += 4) v128.store(zeros + (<usize>j << 2), f32x4.splat(0));
  for (let i = 0; i < rows; i++) {
    store<f64>(runMax + (<usize>i << 3), -Infinity);
    store<f64>(runSum + (<usize>i << 3), 0);
  }
  for (let t = 0; t < rows * k; t++) {
    store<i32>(outIds + (<usize>t << 2), -1);
    store<f32>(outScores + (<usize>t << 2), -Infinity);
  }
  for (let j0 = 0; j0 < n; j0 += FBLOCK) {
    const cn = min(FBLOCK, n - j0);
    const cb = c + <usize>j0 * rowB;
    const cn4 = cn & ~3;
    const bb = bias != 0 ? bias + (<usize>j0 << 2) : zeros;
    packClasses8(cb, cn, d, packedC);
    for (let i0 = 0; i0 < rows; i0 += FROWS) {
      const nr = min(FROWS, rows - i0);
      packRows4(a + <usize>i0 * rowB, nr, d, packedA);
      // each group of 8 packed classes (d·32 bytes) stays in L1 while the query rows pass over it
      for (let g = 0; g < cn; g += 8) {
        const cp = packedC + <usize>g * rowB;
        const og = tile + (<usize>g << 2);
        for (let r = 0; r < nr; r += 4) op4x8(packedA + <usize>r * rowB, cp, d, og + <usize>r * tileLd, tileLd, nr - r);
      }
      for (let r = 0; r < nr; r++) {
        const i = i0 + r;
        const t = tile + <usize>r * tileLd;
        const mp = runMax + (<usize>i << 3);
        const sp = runSum + (<usize>i << 3);
        const hi = outIds + <usize>i * kB;
        const hs = outScores + <usize>i * kB;
        let M = load<f64>(mp);
        let thr: f32 = k > 0 ? load<f32>(hs) : Infinity;
        let thrv = f32x4.splat(thr);
        const M0: f32 = M == -Infinity ? 0 : <f32>M; // M is a float32 value
        const mv = f32x4.splat(M0);
        let acc = f32x4.splat(0);
        let vmax = f32x4.splat(-Infinity);
        let j = 0;
        for (; j < cn4; j += 4) {
          const jb = <usize>j << 2;
          const v = f32x4.add(v128.load(t + jb), v128.load(bb + jb));
          vmax = f32x4.pmax(vmax, v);
          acc = f32x4.add(acc, expv(f32x4.sub(v, mv)));
          if (v128.any_true(f32x4.ge(v, thrv)) && k > 0) {
            thr = heapOffer4(v, j0 + j, 4, hi, hs, k, thr);
            thrv = f32x4.splat(thr);
          }
        }
        if (j < cn) {
          // last 1-3 classes: the other lanes become -inf (lanes past the block are never offered)
          const nl = cn - j;
          const mask = tailMask(nl);
          const jb = <usize>j << 2;
          const v = v128.bitselect(f32x4.add(v128.load(t + jb), v128.load(bb + jb)), f32x4.splat(-Infinity), mask);
          vmax = f32x4.pmax(vmax, v);
          acc = f32x4.add(acc, v128.and(expv(f32x4.sub(v, mv)), mask));
          if (v128.any_true(f32x4.ge(v, thrv)) && k > 0) thr = heapOffer4(v, j0 + j, nl, hi, hs, k, thr);
        }
        const bmax = lanesMax(vmax);
        // a block of -inf logits (masked classes) adds nothing; skipping it avoids -inf - -inf
        if (bmax == -Infinity) continue;
        let ref: f32 = M0;
        let bs = lanesSum(acc);
        if (M == -Infinity || bmax > M0 + REBASE) {
          // first block of this row, or a much larger maximum: exps relative to this block's
          ref = bmax;
          const mb = f32x4.splat(bmax);
          acc = f32x4.splat(0);
          for (j = 0; j < cn; j += 4) {
            const jb = <usize>j << 2;
            const e = expv(f32x4.sub(f32x4.add(v128.load(t + jb), v128.load(bb + jb)), mb));
            acc = f32x4.add(acc, j + 4 <= cn ? e : v128.and(e, tailMask(cn - j)));
          }
          bs = lanesSum(acc);
        }
        // (M, S) with S = Σ exp(o - M) over the earlier blocks; bs = Σ exp(o - ref), ref >= M.
        // M follows the maximum, so the next blocks' exps are taken relative to it.
        let S = load<f64>(sp);
        if (<f64>ref > M) {
          S *= Math.exp(M - <f64>ref);
          M = <f64>ref;
        }
        S += bs;
        if (<f64>bmax > M) {
          S *= Math.exp(M - <f64>bmax);
          M = <f64>bmax;
        }
        store<f64>(mp, M);
        store<f64>(sp, S);
      }
    }
  }
  for (let i = 0; i < rows; i++) {
    store<f64>(outLse + (<usize>i << 3), load<f64>(runMax + (<usize>i << 3)) + Math.log(load<f64>(runSum + (<usize>i << 3))));
    // heap sort: repeatedly move the worst entry to the end -> descending order
    const hi = outIds + <usize>i * kB;
    const hs = outScores + <usize>i * kB;
    for (let e = k - 1; e > 0; e--) {
      const es = <usize>e << 2;
      const s = load<f32>(hs + es);
      const id = load<i32>(hi + es);
      store<f32>(hs + es, load<f32>(hs));
      store<i32>(hi + es, load<i32>(hi));
      store<f32>(hs, s);
      store<i32>(hi, id);
      siftDown(hi, hs, e, 0);
    }
  }
}

// ---------------------------------------------------------------------------------------
// k-means assignment and tree-node scoring

/**
 * Softmax weights of a block of scores, in place: `s[i·cols + j] ← factor[i] · exp(s[i·cols + j]
 * + bias[j] − ref[i])` (`bias` may be 0; `ref`, `factor` are f64 per row). A `−∞` score and a
 * row with `factor = 0` or `ref = −∞` give 0. Exponents must be ≤ 80 (see {@link expv}).
 */
export function softmaxWeights(s: usize, rows: i32, cols: i32, bias: usize, ref: usize, factor: usize): void {
  const ninf = f32x4.splat(-Infinity);
  const c4 = cols & ~3;
  for (let i = 0; i < rows; i++) {
    const row = s + ((<usize>i * <usize>cols) << 2);
    const f = load<f64>(factor + (<usize>i << 3));
    const r = load<f64>(ref + (<usize>i << 3));
    if (f == 0 || r == -Infinity) {
      memory.fill(row, 0, <usize>cols << 2);
      continue;
    }
    const fv = f32x4.splat(<f32>f);
    const rv = f32x4.splat(<f32>r);
    for (let j = 0; j < c4; j += 4) {
      const p = row + (<usize>j << 2);
      let v = v128.load(p);
      if (bias) v = f32x4.add(v, v128.load(bias + (<usize>j << 2)));
      const live = f32x4.ne(v, ninf);
      v128.store(p, v128.and(f32x4.mul(fv, expv(f32x4.sub(v, rv))), live));
    }
    for (let j = c4; j < cols; j++) {
      const p = row + (<usize>j << 2);
      let x = load<f32>(p);
      if (bias) x += load<f32>(bias + (<usize>j << 2));
      store<f32>(p, x == -Infinity ? 0 : <f32>f * f32x4.extract_lane(expv(f32x4.splat(x - <f32>r)), 0));
    }
  }
}

/**
 * The full softmax's gradient pass over the classes `[cStart, cStart + cRows)`, block by block
 * of `blk` classes (`c`, `bias` and `outC`, `outBias` point at the range's first class; `bias`
 * and `outBias` may be 0): per block, the scores `h·c_j` (as {@link matmulNT}), the listed
 * positives `(posRows[k], posIds[k])` (absolute class ids) masked, the weights of
 * {@link softmaxWeights}, each positive's `posGrad[k]` (f64) added, then
 * `outH += G·c` and `outC += Gᵀ·h` (as {@link accumRows}) and `outBias[j] += Σ_i G[i, j]`, rows
 * in order. The same operations in the same order as those kernels called block by block.
 * `scratch` holds `rows · blk` floats.
 */
export function fullSoftmaxGrad(
  h: usize, rows: i32, c: usize, cRows: i32, d: i32, bias: usize, ref: usize, factor: usize,
  posRows: usize, posIds: usize, posGrad: usize, P: i32, cStart: i32, blk: i32, scratch: usize,
  outH: usize, outC: usize, outBias: usize,
): void {
  const rowB = <usize>d << 2;
  for (let s = 0; s < cRows; s += blk) {
    const cnt = min(blk, cRows - s);
    const cs = c + <usize>s * rowB;
    tileNT(h, rows, cs, cnt, d, scratch, cnt);
    const base = cStart + s;
    for (let k = 0; k < P; k++) {
      const p = load<i32>(posIds + (<usize>k << 2)) - base;
      if (<u32>p < <u32>cnt) {
        const r = load<i32>(posRows + (<usize>k << 2));
        store<f32>(scratch + ((<usize>r * <usize>cnt + <usize>p) << 2), -Infinity);
      }
    }
    softmaxWeights(scratch, rows, cnt, bias ? bias + (<usize>s << 2) : 0, ref, factor);
    for (let k = 0; k < P; k++) {
      const p = load<i32>(posIds + (<usize>k << 2)) - base;
      if (<u32>p < <u32>cnt) {
        const r = load<i32>(posRows + (<usize>k << 2));
        const at = scratch + ((<usize>r * <usize>cnt + <usize>p) << 2);
        store<f32>(at, <f32>(<f64>load<f32>(at) + load<f64>(posGrad + (<usize>k << 3))));
      }
    }
    accumRows(outH, rows, scratch, cnt, 1, cs, cnt, d);
    accumRows(outC + <usize>s * rowB, cnt, scratch, 1, cnt, h, rows, d);
    if (outBias) {
      const ob = outBias + (<usize>s << 2);
      for (let i = 0; i < rows; i++) {
        const row = scratch + ((<usize>i * <usize>cnt) << 2);
        for (let j = 0; j < cnt; j++) {
          const at = ob + (<usize>j << 2);
          store<f32>(at, load<f32>(at) + load<f32>(row + (<usize>j << 2)));
        }
      }
    }
  }
}

/** Scratch bytes {@link kmeansAssign} needs for `kc` centroids. */
export function kmeansScratchBytes(kc: i32): i32 {
  return 4 * kc * 4 + kc * 4 + 64;
}

/**
 * Nearest centroid of each point: `outIdx[i] = argmin_j ||x_i - c_j||²` (ties: smaller j),
 * computed as `||c_j||² - 2 x_i·c_j`; `outDist` (may be 0) receives the squared distance,
 * clamped at 0. `scratch` holds {@link kmeansScratchBytes}(kc) bytes.
 */
export function kmeansAssign(x: usize, n: i32, cent: usize, kc: i32, d: i32, outIdx: usize, outDist: usize, scratch: usize): void {
  if (n <= 0 || kc <= 0) return;
  const rowB = <usize>d << 2;
  const d4 = <usize>(d & ~3) << 2;
  const rem = d & 3;
  const mask = tailMask(rem);
  const norms = scratch;
  const tile = (scratch + (<usize>kc << 2) + 15) & ~<usize>15;
  const tileLd = <usize>kc << 2;
  for (let j = 0; j < kc; j++) store<f32>(norms + (<usize>j << 2), sqnorm(cent + <usize>j * rowB, d4, mask, rem != 0));
  for (let i0 = 0; i0 < n; i0 += 4) {
    const nr = min(4, n - i0);
    tileNT(x + <usize>i0 * rowB, nr, cent, kc, d, tile, kc);
    for (let r = 0; r < nr; r++) {
      const t = tile + <usize>r * tileLd;
      let best: f32 = Infinity;
      let bj = 0;
      for (let j = 0; j < kc; j++) {
        const v = load<f32>(norms + (<usize>j << 2)) - 2 * load<f32>(t + (<usize>j << 2));
        if (v < best) {
          best = v;
          bj = j;
        }
      }
      const i = i0 + r;
      store<i32>(outIdx + (<usize>i << 2), bj);
      if (outDist != 0) {
        const xn = sqnorm(x + <usize>i * rowB, d4, mask, rem != 0);
        store<f32>(outDist + (<usize>i << 2), max<f32>(0, xn + best));
      }
    }
  }
}

@inline function sqnorm(p: usize, d4: usize, mask: v128, hasTail: bool): f32 {
  let s = f32x4.splat(0);
  for (let k: usize = 0; k < d4; k += 16) {
    const v = v128.load(p + k);
    s = madd(v, v, s);
  }
  if (hasTail) {
    const v = v128.and(v128.load(p + d4), mask);
    s = madd(v, v, s);
  }
  return (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
}

/**
 * Kernel-tree node scores in float64: `out[j] = phi · nodes[j,:]` for `j < count`,
 * where `phi` has `D` doubles and `nodes` is `count × D` (row-major f64).
 */
export function nodeScores(phi: usize, nodes: usize, count: i32, D: i32, out: usize): void {
  const rowB = <usize>D << 3;
  const D4 = <usize>(D & ~3) << 3;
  for (let j = 0; j < count; j++) {
    const nr = nodes + <usize>j * rowB;
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let k: usize = 0;
    for (; k < D4; k += 32) {
      s0 = madd64(v128.load(phi + k), v128.load(nr + k), s0);
      s1 = madd64(v128.load(phi + k + 16), v128.load(nr + k + 16), s1);
    }
    const sv = f64x2.add(s0, s1);
    let s = f64x2.extract_lane(sv, 0) + f64x2.extract_lane(sv, 1);
    for (; k < rowB; k += 8) s += load<f64>(phi + k) * load<f64>(nr + k);
    store<f64>(out + (<usize>j << 3), s);
  }
}

// ---------------------------------------------------------------------------------------
// sparse optimizer

/** Step counts whose bias corrections one Adam call remembers (a power of two; see {@link adamScratchBytes}). */
const ADAM_MEMO: i32 = 1024;

/**
 * Scratch bytes the Adam kernels need: a table of the bias-corrected step sizes by step count,
 * `ADAM_MEMO` slots of (count, `lr/(1−β1^t)`, `1/(1−β2^t)`), cleared at each call.
 */
export function adamScratchBytes(): i32 {
  return ADAM_MEMO * 12;
}

/**
 * Lazy-Adam update of rows `ids[0..count)` of `w` (moments `m`, `v`, per-row step counts
 * `steps`, gradient rows `g` in list order), as `adamRows` of the TS reference but in float32
 * arithmetic (the bias corrections `1−β^t` in float64, computed once per step count and call:
 * rows with a step count seen before take them from `scratch`, {@link adamScratchBytes} bytes).
 */
export function adamRows(
  w: usize, m: usize, v: usize, d: i32, ids: usize, count: i32, g: usize, steps: usize,
  lr: f64, beta1: f64, beta2: f64, eps: f64, scratch: usize,
): void {
  adam(w, m, v, d, count, ids, count, g, steps, lr, beta1, beta2, eps, false, scratch);
}

/**
 * Adam update of every row `0 … n−1` of `w`: row `ids[p]` (strictly ascending) with gradient row
 * `p` of `g`, every other row with a zero gradient — `adamRows` over all rows with the gradient
 * spread out (the same float32 arithmetic, so the same bits), without reading a dense gradient.
 */
export function adamAllRows(
  w: usize, m: usize, v: usize, d: i32, n: i32, ids: usize, count: i32, g: usize, steps: usize,
  lr: f64, beta1: f64, beta2: f64, eps: f64, scratch: usize,
): void {
  adam(w, m, v, d, n, ids, count, g, steps, lr, beta1, beta2, eps, true, scratch);
}

/** Listed rows per block of the Adam kernel (see {@link touchAdamRows}). */
const TOUCH_BLOCK: i32 = 32;

/** What the touch loop reads (a global, so that the reads are kept). */
let touched: i32 = 0;

/**
 * Reads one word of the parameter, moment and step-count rows of listed rows `ids[a … b)`: in a
 * large table each is a cache and TLB miss, and reading them first lets those misses overlap
 * instead of each waiting inside the update (the update then finds them in cache).
 */
@inline function touchAdamRows(w: usize, m: usize, v: usize, steps: usize, ids: usize, a: i32, b: i32, rowB: usize): void {
  let z: i32 = 0;
  for (let j = a; j < b; j++) {
    const id = <usize>load<i32>(ids + (<usize>j << 2));
    const o = id * rowB;
    z ^= load<i32>(w + o) ^ load<i32>(m + o) ^ load<i32>(v + o) ^ load<i32>(steps + (id << 2));
  }
  touched ^= z;
}

/** The two Adam kernels: `rows` listed rows (`all` false), or all `rows` rows with `count` listed ones. */
@inline function adam(
  w: usize, m: usize, v: usize, d: i32, rows: i32, ids: usize, count: i32, g: usize, steps: usize,
  lr: f64, beta1: f64, beta2: f64, eps: f64, all: bool, scratch: usize,
): void {
  // the memo of bias corrections: slot t mod ADAM_MEMO holds step count t (0: empty) and its two
  // factors, valid for this call's lr and betas only
  memory.fill(scratch, 0, <usize>ADAM_MEMO << 2);
  const memoStep = scratch + (<usize>ADAM_MEMO << 2);
  const memoIc2 = scratch + (<usize>ADAM_MEMO << 3);
  const rowB = <usize>d << 2;
  const d4 = <usize>(d & ~3) << 2;
  const b1 = f32x4.splat(<f32>beta1), a1 = f32x4.splat(<f32>(1 - beta1));
  const b2 = f32x4.splat(<f32>beta2), a2 = f32x4.splat(<f32>(1 - beta2));
  const ev = f32x4.splat(<f32>eps);
  const zero = f32x4.splat(0);
  let tPrev: i32 = -1;
  let step: f32 = 0, ic2: f32 = 0;
  let p: i32 = 0;
  let next: i32 = count > 0 ? load<i32>(ids) : -1;
  for (let i: i32 = 0; i < rows; i++) {
    // listed rows: first read one word of each row of the next block (see touchAdamRows)
    if (!all && (i & (TOUCH_BLOCK - 1)) == 0) touchAdamRows(w, m, v, steps, ids, i, min(rows, i + TOUCH_BLOCK), rowB);
    // the row, whether it has a gradient row, and where that is
    const id: usize = all ? <usize>i : <usize>load<i32>(ids + (<usize>i << 2));
    const listed = all ? i == next : true;
    const go = g + <usize>(all ? p : i) * rowB;
    const sp = steps + (id << 2);
    const t = load<i32>(sp) + 1;
    store<i32>(sp, t);
    if (t != tPrev) {
      // a pair of pows per step count and call: rows of a sparse step have many counts, mostly
      // repeated (the same values as computing them for every row)
      const slot = <usize>(t & (ADAM_MEMO - 1)) << 2;
      if (t > 0 && load<i32>(scratch + slot) == t) {
        step = load<f32>(memoStep + slot);
        ic2 = load<f32>(memoIc2 + slot);
      } else {
        step = <f32>(lr / (1 - Math.pow(beta1, <f64>t)));
        ic2 = <f32>(1 / (1 - Math.pow(beta2, <f64>t)));
        store<i32>(scratch + slot, t);
        store<f32>(memoStep + slot, step);
        store<f32>(memoIc2 + slot, ic2);
      }
      tPrev = t;
    }
    const sv = f32x4.splat(step), iv = f32x4.splat(ic2);
    const wo = w + id * rowB, mo = m + id * rowB, vo = v + id * rowB;
    let k: usize = 0;
    for (; k < d4; k += 16) {
      const gk = listed ? v128.load(go + k) : zero;
      const mk = madd(b1, v128.load(mo + k), f32x4.mul(a1, gk));
      const vk = madd(b2, v128.load(vo + k), f32x4.mul(a2, f32x4.mul(gk, gk)));
      v128.store(mo + k, mk);
      v128.store(vo + k, vk);
      const den = f32x4.add(f32x4.sqrt(f32x4.mul(vk, iv)), ev);
      v128.store(wo + k, f32x4.sub(v128.load(wo + k), f32x4.div(f32x4.mul(sv, mk), den)));
    }
    for (; k < rowB; k += 4) {
      const gk: f32 = listed ? load<f32>(go + k) : 0;
      const mk = <f32>beta1 * load<f32>(mo + k) + <f32>(1 - beta1) * gk;
      const vk = <f32>beta2 * load<f32>(vo + k) + <f32>(1 - beta2) * gk * gk;
      store<f32>(mo + k, mk);
      store<f32>(vo + k, vk);
      store<f32>(wo + k, load<f32>(wo + k) - (step * mk) / (Mathf.sqrt(vk * ic2) + <f32>eps));
    }
    if (all && listed) {
      p++;
      next = p < count ? load<i32>(ids + (<usize>p << 2)) : -1;
    }
  }
}

// ---------------------------------------------------------------------------------------
// random fills (bit-identical to `fillNormal` / `fillUniform` of the TS reference: integer
// arithmetic, and only + − × ÷ and sqrt in float64, which are exactly rounded everywhere; the
// log of the polar method is the reference's `lnUnit`, two lanes at a time)

/** xoshiro128** on the four words at `st` (advanced in place); returns the next output (i32). */
@inline function xoNext(st: usize): i32 {
  const s0 = load<i32>(st), s1 = load<i32>(st, 4), s2 = load<i32>(st, 8), s3 = load<i32>(st, 12);
  const r = rotl<i32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  let n2 = s2 ^ s0;
  let n3 = s3 ^ s1;
  store<i32>(st, s0 ^ n3);
  store<i32>(st, s1 ^ n2, 4);
  n2 ^= t;
  store<i32>(st, n2, 8);
  store<i32>(st, rotl<i32>(n3, 11), 12);
  return r;
}

const TWO_M31: f64 = 1.0 / 2147483648.0;
const LN2: f64 = 0.6931471805599453;
const SQRT2: f64 = 1.4142135623730951;

/** Values per chunk of a normal fill; chunk `j` draws from its own generator (see {@link fillNormal}). */
const NCHUNK: i32 = 1024;

@inline function fmix32(h: i32): i32 {
  h ^= <i32>(<u32>h >> 16);
  h *= <i32>0x85ebca6b;
  h ^= <i32>(<u32>h >> 13);
  h *= <i32>0xc2b2ae35;
  return h ^ <i32>(<u32>h >> 16);
}

/**
 * The polar transform of two candidate pairs: `w` holds the words `[uA, vA, uB, vB]` (int32);
 * returns the float32 values `[uA·fA, vA·fA, uB·fB, vB·fB]`, `f = √(−2·ln s / s)·scale`,
 * `s = u² + v²`, `u = w·2⁻³¹` (the reference's `lnUnit` for `ln s`, two lanes at a time).
 */
@inline function polar2(w: v128, sc: v128): v128 {
  const one = f64x2.splat(1), two = f64x2.splat(-2), half = f64x2.splat(0.5), sq2 = f64x2.splat(SQRT2);
  const ln2 = f64x2.splat(LN2), inv = f64x2.splat(TWO_M31);
  const magic = i64x2.splat(0x4330000000000000), bias = f64x2.splat(4503599627370496.0 + 1023.0);
  const mantMask = i64x2.splat(0x000fffffffffffff), oneBits = i64x2.splat(0x3ff0000000000000);
  const c3 = f64x2.splat(1.0 / 3.0), c5 = f64x2.splat(1.0 / 5.0), c7 = f64x2.splat(1.0 / 7.0);
  const c9 = f64x2.splat(1.0 / 9.0), c11 = f64x2.splat(1.0 / 11.0);
  const u = f64x2.mul(f64x2.convert_low_i32x4_s(v128.shuffle<i32>(w, w, 0, 2, 0, 2)), inv);
  const v = f64x2.mul(f64x2.convert_low_i32x4_s(v128.shuffle<i32>(w, w, 1, 3, 1, 3)), inv);
  const s = f64x2.add(f64x2.mul(u, u), f64x2.mul(v, v));
  // ln s: s = 2^e·m, m in [√½, √2)
  const eRaw = i64x2.shr_u(s, 52);
  let m = v128.or(v128.and(s, mantMask), oneBits);
  const big = f64x2.gt(m, sq2);
  m = v128.bitselect(f64x2.mul(m, half), m, big);
  let e = f64x2.sub(v128.or(eRaw, magic), bias);
  e = f64x2.add(e, v128.and(big, one));
  const tt = f64x2.div(f64x2.sub(m, one), f64x2.add(m, one));
  const t2 = f64x2.mul(tt, tt);
  const t4 = f64x2.mul(t2, t2);
  const p = f64x2.add(f64x2.add(c3, f64x2.mul(t2, c5)), f64x2.mul(t4, f64x2.add(f64x2.add(c7, f64x2.mul(t2, c9)), f64x2.mul(t4, c11))));
  const lnS = f64x2.add(f64x2.mul(e, ln2), f64x2.mul(f64x2.add(tt, tt), f64x2.add(one, f64x2.mul(t2, p))));
  const f = f64x2.mul(f64x2.sqrt(f64x2.div(f64x2.mul(two, lnS), s)), sc);
  const ou = f32x4.demote_f64x2_zero(f64x2.mul(u, f));
  const ov = f32x4.demote_f64x2_zero(f64x2.mul(v, f));
  return v128.shuffle<f32>(ou, ov, 0, 4, 1, 5);
}

/**
 * Positions `start … start+len−1` (`start` a multiple of 1024) of the normal stream of `seed`
 * (4 words at `seed`, not changed) times `scale`, into `len` floats at `out`. The stream is
 * cut in chunks of 1024 values; chunk `j` runs xoshiro128** from the words
 * `fmix32(seed_w ^ (j + 1)·K_w)` and turns its words, four at a time, into two candidate
 * pairs `u, v` uniform in [−1, 1) (Marsaglia's polar method): a pair with `0 < s = u²+v² < 1`
 * gives `u·f, v·f`, `f = √(−2·ln s / s)·scale` rounded to float32, the first pair before the
 * second; values past the end of a chunk are dropped. Chunks make any split of a fill give the
 * same values.
 *
 * Two passes per chunk: the first runs the generator and the acceptance test and writes the
 * words of the accepted pairs in place of their outputs (a pair's two words take the bytes of
 * its two floats); the second turns them into values, two pairs per step, with no branch and no
 * dependence between steps (so the divisions and square roots of consecutive steps overlap).
 */
export function fillNormal(out: usize, len: i32, seed: usize, scale: f64, start: i32): void {
  const k0 = load<i32>(seed), k1 = load<i32>(seed, 4), k2 = load<i32>(seed, 8), k3 = load<i32>(seed, 12);
  const sc = f64x2.splat(scale);
  for (let c0 = 0; c0 < len; c0 += NCHUNK) {
    const j = (start + c0) / NCHUNK + 1;
    let s0 = fmix32(k0 ^ (j * <i32>0x9e3779b9)), s1 = fmix32(k1 ^ (j * <i32>0x85ebca6b));
    let s2 = fmix32(k2 ^ (j * <i32>0xc2b2ae35)), s3 = fmix32(k3 ^ (j * <i32>0x27d4eb2f));
    if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
    const cl = min(NCHUNK, len - c0);
    const o = out + (<usize>c0 << 2);
    // pass 1: accepted pairs' words; a pair past the last whole one (odd `cl`) stays in (lu, lv)
    const np = (cl + 1) >> 1, nfull = cl >> 1;
    let cnt = 0, lu = 0, lv = 0;
    while (cnt < np) {
      let r = rotl<i32>(s1 * 5, 7) * 9; let t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl<i32>(s3, 11);
      const w0 = r;
      r = rotl<i32>(s1 * 5, 7) * 9; t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl<i32>(s3, 11);
      const w1 = r;
      r = rotl<i32>(s1 * 5, 7) * 9; t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl<i32>(s3, 11);
      const w2 = r;
      r = rotl<i32>(s1 * 5, 7) * 9; t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl<i32>(s3, 11);
      const w3 = r;
      const uA = <f64>w0 * TWO_M31, vA = <f64>w1 * TWO_M31;
      const sA = uA * uA + vA * vA;
      const uB = <f64>w2 * TWO_M31, vB = <f64>w3 * TWO_M31;
      const sB = uB * uB + vB * vB;
      if (cnt < nfull) {
        const q = o + (<usize>cnt << 3);
        store<i32>(q, w0);
        store<i32>(q, w1, 4);
      } else {
        lu = w0;
        lv = w1;
      }
      cnt += <i32>(sA < 1 && sA != 0);
      if (cnt >= np) break;
      if (cnt < nfull) {
        const q = o + (<usize>cnt << 3);
        store<i32>(q, w2);
        store<i32>(q, w3, 4);
      } else {
        lu = w2;
        lv = w3;
      }
      cnt += <i32>(sB < 1 && sB != 0);
    }
    // pass 2: values, two pairs (four floats) per step
    let k = 0;
    for (; k + 2 <= nfull; k += 2) {
      const q = o + (<usize>k << 3);
      v128.store(q, polar2(v128.load(q), sc));
    }
    if (k < nfull) {
      const q = o + (<usize>k << 3);
      v128.store64_lane(q, polar2(v128.load64_splat(q), sc), 0);
    }
    if (cl & 1) store<f32>(o + (<usize>(cl - 1) << 2), f32x4.extract_lane(polar2(i32x4(lu, lv, lu, lv), sc), 0));
  }
}

/** Fills `len` floats at `out` with `scale·u`, `u` uniform in [−1, 1) from one xoshiro128** word each. */
export function fillUniform(out: usize, len: i32, st: usize, scale: f64): void {
  for (let i = 0; i < len; i++) store<f32>(out + (<usize>i << 2), <f32>(<f64>xoNext(st) * TWO_M31 * scale));
}

/** First byte after the module's static data (start of the JavaScript-managed heap). */
export function heapBase(): usize {
  return __heap_base;
}
