package io.tandem.inference.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The forward math of a Qwen2 / LLaMA / Qwen3 decoder, written once for inference
 * ({@link DecoderModel}, over KV caches) and training ({@link TrainableDecoder}, whole rows under
 * autograd): embeddings, RoPE, the pre-norm decoder layer, grouped-query attention, the final norm
 * and the lm_head, following Hugging Face's {@code modeling_qwen2.py} / {@code modeling_llama.py}.
 * Where past keys and values come from is the caller's {@link Attention}. Activations are
 * {@code [N, hidden_size]}: the new tokens of every sequence of a pass, one row each.
 */
final class DecoderStack {

  /**
   * Attention of one layer over whatever keys and values the caller keeps.
   *
   * <p>{@code qk} is {@code [N, H + KV, hd]}, the query heads then the key heads after RoPE;
   * {@code v} is {@code [N, KV, hd]}. Returns {@code [N, H * hd]}, the heads' outputs concatenated.
   */
  @FunctionalInterface
  interface Attention {
    NDArray attend(int layer, NDArray qk, NDArray v, String probeName);
  }

  private final HfConfig config;
  private final DataType computeDtype;
  private final RotaryEmbedding rope;
  /** {@code x @ rotateHalf == rotate_half(x)}: one matmul instead of slice, negate and concat. */
  private final NDArray rotateHalf;
  private final float maskValue;
  private final int heads;
  private final int kvHeads;
  private final int headDim;
  private final float scaling;
  /**
   * The scalars the layers multiply, add and raise by, as 0-dim float32 tensors owned by the
   * stack's manager. DJL's {@code mul(Number)} / {@code add(Number)} / {@code pow(Number)} wrap the
   * number in a tensor over a direct buffer and close it when the op returns, but autograd keeps
   * that tensor for the backward pass ({@code d(x * s)/dx = s}, {@code d(x^p)/dx = p x^(p-1)}):
   * were the buffer freed by a garbage collection between forward and backward, the backward would
   * read whatever the memory holds by then, and a training step's gradients would come out NaN or
   * wrong, depending on when the JVM collected.
   */
  private final NDArray scalingScalar;
  private final NDArray rmsNormEpsScalar;
  private final NDArray minusHalf;

  /** Tables are created in {@code manager}, which must outlive this stack. */
  DecoderStack(HfConfig config, NDManager manager, DataType computeDtype) {
    this.config = config;
    this.computeDtype = computeDtype;
    this.rope = new RotaryEmbedding(config);
    // HF adds finfo(dtype).min rather than -inf, so no softmax row is ever all -inf (NaN).
    this.maskValue = computeDtype == DataType.FLOAT16 ? -65504f : -Float.MAX_VALUE;
    this.heads = config.numAttentionHeads();
    this.kvHeads = config.numKeyValueHeads();
    this.headDim = config.headDim();
    this.scaling = (float) (1.0 / Math.sqrt(headDim));
    int half = headDim / 2;
    float[] p = new float[headDim * headDim];
    for (int j = 0; j < half; j++) {
      p[(j + half) * headDim + j] = -1f; // out[j] = -x[j + half]
      p[j * headDim + j + half] = 1f; // out[j + half] = x[j]
    }
    this.rotateHalf = manager.create(p, new Shape(headDim, headDim)).toType(computeDtype, false);
    this.scalingScalar = manager.create(scaling);
    this.rmsNormEpsScalar = manager.create((float) config.rmsNormEps());
    this.minusHalf = manager.create(-0.5f);
  }

  HfConfig config() {
    return config;
  }

  DataType computeDtype() {
    return computeDtype;
  }

  RotaryEmbedding rope() {
    return rope;
  }

  /** {@code [hd, hd]}: {@code x @ rotateHalf == rotate_half(x)}. */
  NDArray rotateHalf() {
    return rotateHalf;
  }

  /** What an attention mask adds where a query must not look: finfo(compute dtype).min. */
  float maskValue() {
    return maskValue;
  }

  /** Rows of {@code table} at {@code ids} (int64, any shape), in the compute dtype, owned by the ids' manager. */
  NDArray embed(NDArray ids, NDArray table) {
    NDArray rows = JniUtils.embedding((PtNDArray) ids, (PtNDArray) table, false);
    return rows.getDataType() == computeDtype ? rows : rows.toType(computeDtype, false);
  }

  /** {@code cos} and {@code sin} of the rotary embedding at {@code positions}, each {@code [N, 1, hd]}. */
  NDArray[] rotary(NDManager manager, int[] positions) {
    float[] cos = new float[positions.length * headDim];
    float[] sin = new float[positions.length * headDim];
    rope.fill(positions, cos, sin);
    Shape shape = new Shape(positions.length, 1, headDim);
    return new NDArray[] {
      manager.create(cos, shape).toType(computeDtype, false), manager.create(sin, shape).toType(computeDtype, false)
    };
  }

  /**
   * One decoder layer, pre-norm: {@code x += o_proj(attn(input_layernorm(x)))}, then
   * {@code x += down_proj(silu(gate_proj(h)) * up_proj(h))} with
   * {@code h = post_attention_layernorm(x)}.
   *
   * @param x {@code [N, hidden]}
   * @param cosSin {@link #rotary} at the rows' positions
   * @param probe receives the intermediates named as in the golden fixtures, or null
   * @return {@code [N, hidden]}, created in the manager of {@code x}'s arrays
   */
  NDArray layer(int l, DecoderWeights.Layer w, NDArray x, NDArray[] cosSin, Attention attention, ForwardProbe probe) {
    String name = "layer" + l + ".";
    long n = x.getShape().get(0);
    NDArray h = rmsNorm(x, w.inputLayernorm());
    record(probe, name + "input_layernorm_output", h);
    NDArray qkv = w.qkvProj().apply(h).reshape(n, heads + 2L * kvHeads, headDim);
    NDArray qk = qkv.get(new NDIndex().addAllDim().addSliceDim(0, heads + kvHeads));
    NDArray v = qkv.get(new NDIndex().addAllDim().addSliceDim(heads + kvHeads, heads + 2L * kvHeads));
    if (probe != null) {
      record(probe, name + "q_proj_output", qk.get(new NDIndex().addAllDim().addSliceDim(0, heads)).reshape(n, -1));
      record(probe, name + "k_proj_output", qk.get(new NDIndex().addAllDim().addSliceDim(heads, heads + kvHeads)).reshape(n, -1));
      record(probe, name + "v_proj_output", v.reshape(n, -1));
    }
    if (w.qkNorm() != null) {
      qk = rmsNorm(qk, w.qkNorm()); // Qwen3: q_norm / k_norm over each head's head_dim
    }
    // apply_rotary_pos_emb on q and k heads at once: x * cos + rotate_half(x) * sin
    qk = qk.mul(cosSin[0]).add(qk.matMul(rotateHalf).mul(cosSin[1]));

    NDArray attnOut = w.oProj().apply(attention.attend(l, qk, v, name));
    record(probe, name + "o_proj_output", attnOut);
    x = x.add(attnOut);

    h = rmsNorm(x, w.postAttentionLayernorm());
    record(probe, name + "post_attention_layernorm_output", h);
    NDArray gateUp = w.gateUpProj().apply(h);
    long inter = config.intermediateSize();
    NDArray gate = gateUp.get(new NDIndex().addAllDim().addSliceDim(0, inter));
    NDArray up = gateUp.get(new NDIndex().addAllDim().addSliceDim(inter, 2 * inter));
    NDArray mlp = w.downProj().apply(silu(gate).mul(up));
    record(probe, name + "mlp_output", mlp);
    x = x.add(mlp);
    record(probe, name + "output", x);
    return x;
  }

  /** {@code lm_head(norm(x))}: {@code [N, hidden]} to logits {@code [N, vocab_size]} in the compute dtype. */
  NDArray logits(NDArray x, NDArray norm, LinearWeight lmHead, ForwardProbe probe) {
    NDArray h = rmsNorm(x, norm);
    record(probe, "final_norm_output", h);
    return lmHead.apply(h);
  }

  /** {@code 1 / sqrt(head_dim)}, the attention scores' scale. */
  float scaling() {
    return scaling;
  }

  /**
   * Query heads grouped by the KV head they read (repeat_interleave): {@code [..., n, H, hd]} as
   * {@code [..., KV, G * n, hd]}, so each KV head serves its group without copying keys or values.
   *
   * @param lead the leading dimensions ({@code [B]} for B rows of n tokens, {@code []} for one)
   */
  NDArray groupQueries(NDArray q, long[] lead, long n) {
    int group = heads / kvHeads;
    return q.reshape(shape(lead, n, kvHeads, group, headDim))
        .transpose(afterLead(lead.length, 1, 2, 0, 3)) // [n, KV, G, hd] -> [KV, G, n, hd]
        .reshape(shape(lead, kvHeads, (long) group * n, headDim));
  }

  /** The inverse of {@link #groupQueries} for the attention output: {@code [..., KV, G * n, hd]} to {@code [..., n, H * hd]}. */
  NDArray ungroup(NDArray out, long[] lead, long n) {
    int group = heads / kvHeads;
    return out.reshape(shape(lead, kvHeads, group, n, headDim))
        .transpose(afterLead(lead.length, 2, 0, 1, 3)) // [KV, G, n, hd] -> [n, KV, G, hd]
        .reshape(shape(lead, n, (long) heads * headDim));
  }

  /**
   * Scaled dot-product attention, softmax in float32 as HF's eager attention:
   * {@code softmax(q k^T / sqrt(hd) + mask) v}.
   *
   * @param q {@code [..., KV, G * n, hd]} (see {@link #groupQueries})
   * @param keys {@code [..., KV, T, hd]}
   * @param values {@code [..., KV, T, hd]}
   * @param mask float32, broadcastable to {@code [..., KV, G * n, T]}, or null
   * @return {@code [..., KV, G * n, hd]}
   */
  NDArray attend(NDArray q, NDArray keys, NDArray values, NDArray mask, ForwardProbe probe, String probeName) {
    int d = keys.getShape().dimension();
    int[] axes = new int[d];
    for (int i = 0; i < d; i++) axes[i] = i;
    axes[d - 2] = d - 1;
    axes[d - 1] = d - 2;
    NDArray scores = q.matMul(keys.transpose(axes)).mul(scalingScalar);
    if (computeDtype != DataType.FLOAT32) {
      scores = scores.toType(DataType.FLOAT32, false);
    }
    if (mask != null) {
      scores = scores.add(mask);
    }
    NDArray probs = scores.softmax(-1).toType(computeDtype, false);
    record(probe, probeName + "attention_probs", probs);
    return probs.matMul(values);
  }

  /**
   * The causal mask of {@code n} new tokens after {@code past} cached ones, {@code [G * n, past + n]}
   * float32: query {@code i} sits in slot {@code past + i} and sees slots {@code 0..past + i}; rows
   * repeat per query head of a group, as {@link #groupQueries} lays them out. Null for one token,
   * which sees everything before it.
   */
  NDArray causalMask(NDManager manager, int past, int n) {
    if (n == 1) {
      return null;
    }
    int group = heads / kvHeads;
    int total = past + n;
    float[] mask = new float[group * n * total];
    for (int g = 0; g < group; g++) {
      for (int i = 0; i < n; i++) {
        int row = (g * n + i) * total;
        for (int j = past + i + 1; j < total; j++) {
          mask[row + j] = maskValue;
        }
      }
    }
    return manager.create(mask, new Shape((long) group * n, total));
  }

  /** {@code x * rsqrt(mean(x^2) + eps) * weight}, statistics over the last axis. */
  NDArray rmsNorm(NDArray x, NDArray weight) {
    NDArray variance = x.square().mean(new int[] {-1}, true);
    return x.mul(variance.add(rmsNormEpsScalar).pow(minusHalf)).mul(weight);
  }

  /** {@code silu(z) = z * sigmoid(z)}. */
  static NDArray silu(NDArray z) {
    return z.mul(JniUtils.sigmoid((PtNDArray) z));
  }

  static void record(ForwardProbe probe, String name, NDArray value) {
    if (probe != null) {
      probe.record(name, value.toType(DataType.FLOAT32, false).toFloatArray(), value.getShape().getShape());
    }
  }

  /** A transpose's axes: the {@code lead} leading ones kept, the rest permuted as {@code inner}. */
  private static int[] afterLead(int lead, int... inner) {
    int[] axes = new int[lead + inner.length];
    for (int i = 0; i < lead; i++) axes[i] = i;
    for (int i = 0; i < inner.length; i++) axes[lead + i] = lead + inner[i];
    return axes;
  }

  private static Shape shape(long[] lead, long... rest) {
    long[] all = new long[lead.length + rest.length];
    System.arraycopy(lead, 0, all, 0, lead.length);
    System.arraycopy(rest, 0, all, lead.length, rest.length);
    return new Shape(all);
  }
}
