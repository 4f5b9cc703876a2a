/**
 * The wasm body of the generic fused LSTM op: the big matmuls and the per-step recurrent
 * matmuls run on tfjs-wasm (XNNPACK), everything else on the host in JS.
 *
 * Why (measured on these machines): per step, the tf-op version spent more time in ~20
 * tiny tf ops (10-30 us of dispatch each, plus wasm-heap copies for split/unstack) than in
 * its recurrent matmul. Here a step is one upload, one matmul and one read per direction;
 * the gate math runs over Float32Arrays, and reading a wasm tensor is a memcpy. Rows that
 * the mask drops at a step are left out of that step's matmul altogether (their state is
 * held and their gate gradients are zero), as are padded rows from the big matmuls.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** What {@link hostLstm} needs; weights per direction. */
export interface HostLstmArgs {
  readonly x: tf.Tensor3D;
  readonly mask: tf.Tensor2D;
  readonly kernels: readonly tf.Tensor2D[];
  readonly recurrents: readonly tf.Tensor2D[];
  readonly biases: readonly tf.Tensor1D[];
  readonly inputGradient: boolean;
  readonly save: tf.GradSaveFunc;
}

/** The forward value and the gradient function, in `tf.customGrad`'s shape. */
export interface HostLstmResult {
  readonly value: tf.Tensor3D;
  readonly gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
}

const read = (t: tf.Tensor) => t.dataSync() as Float32Array; // a memcpy on wasm

/** [n, k] x [k, m] on the backend, read back to the host. */
function hostMatMul(a: Float32Array, n: number, k: number, b: tf.Tensor2D): Float32Array {
  const at = tf.tensor2d(a, [n, k]);
  const p = tf.matMul(at, b);
  const out = read(p);
  tf.dispose([at, p]);
  return out;
}

/**
 * One step's gate activations on the backend: sigmoid(h W + proj) for all four gates of
 * the n active rows, [n, G]. The g gate's weights and projection come doubled, so its
 * tanh is 2 sigmoid(2z) - 1: tfjs-wasm's sigmoid is SIMD, far faster than JS's Math.exp.
 */
function stepGates(
  hc: Float32Array,
  pc: Float32Array,
  n: number,
  H: number,
  w: tf.Tensor2D,
): Float32Array {
  const G = w.shape[1];
  const ht = tf.tensor2d(hc, [n, H]);
  const pt = tf.tensor2d(pc, [n, G]);
  const z = tf.matMul(ht, w);
  const zs = tf.add(z, pt);
  const a = tf.sigmoid(zs);
  const out = read(a);
  tf.dispose([ht, pt, z, zs, a]);
  return out;
}

/** One row's cell update from its gate activations (hot: kept small for the JIT). */
function forwardCells(
  H: number,
  mm: number,
  act: Float32Array,
  ab: number,
  c: Float32Array,
  h: Float32Array,
  hb: number,
  gs: Float32Array,
  gb: number,
  tcS: Float32Array,
  cpS: Float32Array,
  cb: number,
): void {
  for (let k = 0; k < H; k++) {
    const i = act[ab + k];
    const f = act[ab + H + k];
    const g = 2 * act[ab + 2 * H + k] - 1;
    const o = act[ab + 3 * H + k];
    const cp = c[hb + k];
    const cn = f * cp + i * g;
    const tc = Math.tanh(cn);
    gs[gb + k] = i;
    gs[gb + H + k] = f;
    gs[gb + 2 * H + k] = g;
    gs[gb + 3 * H + k] = o;
    tcS[cb + k] = tc;
    cpS[cb + k] = cp;
    // Hold the state on padded steps: state += m * (new - state).
    c[hb + k] = cp + mm * (cn - cp);
    h[hb + k] += mm * (o * tc - h[hb + k]);
  }
}

/**
 * Runs the fused LSTM layer with host-side gate math (see the module doc). Outputs and
 * gradients follow the `LstmLayerFn` contract, like the tf-op body in `lstm_fused.ts`.
 */
export function hostLstm(args: HostLstmArgs): HostLstmResult {
  const { x, mask, kernels, recurrents, biases, inputGradient } = args;
  const [B, T, In] = x.shape;
  const D = recurrents.length;
  const H = recurrents[0].shape[0];
  const G = 4 * H;
  const m = read(mask);

  // Matmul rows: the valid (b, t) rows in natural order; all rows when none is valid.
  const rowOf = new Int32Array(B * T);
  let R = 0;
  for (let r = 0; r < B * T; r++) rowOf[r] = m[r] !== 0 ? R++ : -1;
  if (R === 0 || R === B * T) {
    for (let r = 0; r < B * T; r++) rowOf[r] = r;
    R = B * T;
  }
  const xAll = read(x);
  let xRows = xAll;
  if (R !== B * T) {
    xRows = new Float32Array(R * In);
    for (let r = 0; r < B * T; r++) {
      if (rowOf[r] >= 0) xRows.set(xAll.subarray(r * In, (r + 1) * In), rowOf[r] * In);
    }
  }

  const kCat = D === 1 ? tf.clone(kernels[0]) : tf.concat(kernels as tf.Tensor2D[], 1);
  args.save([kCat, ...recurrents]);
  // Never return a typed array from tf.tidy: it walks every element looking for tensors.
  // The g gate's columns doubled (see stepGates); exact, as the scale is a power of two.
  const scale = tf.tidy(() =>
    tf.concat([tf.ones([2 * H]), tf.fill([H], 2), tf.ones([H])]) as tf.Tensor1D
  );
  const projT = tf.tidy(() => {
    const bCat = D === 1 ? biases[0] : tf.concat(biases as tf.Tensor1D[], 0);
    const scaleD = tf.tile(scale, [D]);
    return tf.add(
      tf.matMul(tf.tensor2d(xRows, [R, In]), tf.mul(kCat, scaleD)),
      tf.mul(bCat, scaleD),
    );
  }); // [R, D*G]
  const recScaled = recurrents.map((r) => tf.mul(r, scale) as tf.Tensor2D);
  const proj = read(projT);
  projT.dispose();

  // Per direction, saved for backward: gate activations [T, B, G] (processing step s),
  // tanh(c_new) and c_prev [T, B, H], and the state read by each matmul row, [R, H].
  const gates = Array.from({ length: D }, () => new Float32Array(T * B * G));
  const tcs = Array.from({ length: D }, () => new Float32Array(T * B * H));
  const cPrevs = Array.from({ length: D }, () => new Float32Array(T * B * H));
  const hPrevRows = Array.from({ length: D }, () => new Float32Array(R * H));
  const out = new Float32Array(B * T * D * H);
  const active = new Int32Array(B);
  const hc = new Float32Array(B * H);
  const pc = new Float32Array(B * G);

  for (let d = 0; d < D; d++) {
    const h = new Float32Array(B * H);
    const c = new Float32Array(B * H);
    const gs = gates[d], tcS = tcs[d], cpS = cPrevs[d], hp = hPrevRows[d];
    for (let s = 0; s < T; s++) {
      const time = d === 0 ? s : T - 1 - s;
      let n = 0;
      for (let b = 0; b < B; b++) {
        if (m[b * T + time] !== 0) {
          active[n] = b;
          hc.set(h.subarray(b * H, (b + 1) * H), n * H);
          const zb = (rowOf[b * T + time] * D + d) * G;
          pc.set(proj.subarray(zb, zb + G), n * G);
          n++;
        }
      }
      if (n > 0) {
        const act = stepGates(hc.subarray(0, n * H), pc.subarray(0, n * G), n, H, recScaled[d]);
        for (let j = 0; j < n; j++) {
          const b = active[j];
          const nat = b * T + time;
          const mm = m[nat];
          const r = rowOf[nat];
          hp.set(h.subarray(b * H, (b + 1) * H), r * H);
          const gb = (s * B + b) * G, cb = (s * B + b) * H;
          forwardCells(H, mm, act, j * G, c, h, b * H, gs, gb, tcS, cpS, cb);
        }
      }
      for (let b = 0; b < B; b++) {
        out.set(h.subarray(b * H, (b + 1) * H), ((b * T + time) * D + d) * H);
      }
    }
  }
  tf.dispose([scale, ...recScaled]);
  const value = tf.tensor3d(out, [B, T, D * H]);

  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
    const kCat0 = saved[0] as tf.Tensor2D;
    const dyAll = read(dy); // [B*T, D*H]
    const dzAll = new Float32Array(R * D * G); // gate gradients, rows = matmul rows
    const dBias = Array.from({ length: D }, () => new Float64Array(G));
    const dzc = new Float32Array(B * G);
    for (let d = 0; d < D; d++) {
      const rT = tf.transpose(saved[1 + d]) as tf.Tensor2D; // [G, H]
      const dh = new Float32Array(B * H);
      const dc = new Float32Array(B * H);
      const gs = gates[d], tcS = tcs[d], cpS = cPrevs[d], db = dBias[d];
      for (let s = T - 1; s >= 0; s--) {
        const time = d === 0 ? s : T - 1 - s;
        let n = 0;
        for (let b = 0; b < B; b++) {
          const nat = b * T + time;
          const yb = (nat * D + d) * H, hb = b * H;
          for (let k = 0; k < H; k++) dh[hb + k] += dyAll[yb + k]; // dh is now dhTot
          const mm = m[nat];
          if (mm === 0) continue; // padded: the carried gradients pass through unchanged
          const r = rowOf[nat];
          const gb = (s * B + b) * G, cb = (s * B + b) * H, zb = (r * D + d) * G, jb = n * G;
          for (let k = 0; k < H; k++) {
            const dht = dh[hb + k];
            const dhn = mm * dht;
            const dci = mm * dc[hb + k];
            const i = gs[gb + k], f = gs[gb + H + k], g = gs[gb + 2 * H + k];
            const o = gs[gb + 3 * H + k], tc = tcS[cb + k];
            const dcn = dci + dhn * o * (1 - tc * tc);
            const dzi = dcn * g * i * (1 - i);
            const dzf = dcn * cpS[cb + k] * f * (1 - f);
            const dzg = dcn * i * (1 - g * g);
            const dzo = dhn * tc * o * (1 - o);
            dzAll[zb + k] = dzc[jb + k] = dzi;
            dzAll[zb + H + k] = dzc[jb + H + k] = dzf;
            dzAll[zb + 2 * H + k] = dzc[jb + 2 * H + k] = dzg;
            dzAll[zb + 3 * H + k] = dzc[jb + 3 * H + k] = dzo;
            db[k] += dzi;
            db[H + k] += dzf;
            db[2 * H + k] += dzg;
            db[3 * H + k] += dzo;
            dh[hb + k] = dht - dhn; // + the recurrent term below
            dc[hb + k] += dcn * f - dci;
          }
          active[n++] = b;
        }
        if (n > 0) {
          const back = hostMatMul(dzc.subarray(0, n * G), n, G, rT); // [n, H]
          for (let j = 0; j < n; j++) {
            const hb = active[j] * H;
            for (let k = 0; k < H; k++) dh[hb + k] += back[j * H + k];
          }
        }
      }
      rT.dispose();
    }

    // Weight gradients as [G, R] x [R, n] matmuls: tfjs-wasm packs the right operand per
    // call, and the long R axis as the inner dimension measured 2x faster than [n, R] x [R, G].
    const grads: tf.Tensor[] = [];
    const TILE = 16;
    for (let d = 0; d < D; d++) {
      const dzT = new Float32Array(G * R);
      for (let r0 = 0; r0 < R; r0 += TILE) {
        const r1 = Math.min(R, r0 + TILE);
        for (let k = 0; k < G; k++) {
          for (let r = r0; r < r1; r++) dzT[k * R + r] = dzAll[(r * D + d) * G + k];
        }
      }
      grads.push(...tf.tidy(() => {
        const dzTt = tf.tensor2d(dzT, [G, R]);
        return [
          tf.transpose(tf.matMul(dzTt, tf.tensor2d(xRows, [R, In]))), // kernel [In, G]
          tf.transpose(tf.matMul(dzTt, tf.tensor2d(hPrevRows[d], [R, H]))), // recurrent [H, G]
          tf.tensor1d(Float32Array.from(dBias[d])), // bias [G]
        ];
      }));
    }
    // Input gradient for both directions in one matmul: [R, D*G] x [D*G, In]; zero in the
    // dropped rows, whose gate gradients are zero.
    let dx: tf.Tensor;
    if (inputGradient) {
      const dxT = tf.tidy(() => tf.matMul(tf.tensor2d(dzAll, [R, D * G]), tf.transpose(kCat0)));
      const dxRows = read(dxT);
      dxT.dispose();
      let dxAll = dxRows;
      if (R !== B * T) {
        dxAll = new Float32Array(B * T * In);
        for (let r = 0; r < B * T; r++) {
          const from = rowOf[r];
          if (from >= 0) dxAll.set(dxRows.subarray(from * In, (from + 1) * In), r * In);
        }
      }
      dx = tf.tensor3d(dxAll, [B, T, In]);
    } else {
      dx = tf.zeros([B, T, In]);
    }
    return [dx, tf.zeros([B, T]), ...grads];
  };
  return { value, gradFunc };
}
