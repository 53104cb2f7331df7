package io.tandem.inference.hf;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.tandem.inference.hf.safetensors.SafetensorsReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;

/**
 * A Qwen2 / LLaMA / Qwen3 decoder loaded from a Hugging Face checkpoint folder, running batched
 * forward passes in which every sequence brings its own {@link KvCache} and any number of new
 * tokens (prefills and single-token decodes together). Weights are shared and immutable; all
 * calls must come from one thread.
 */
public final class DecoderModel implements AutoCloseable {

  private final Path dir;
  private final HfConfig config;
  private final NDManager manager;
  private final DecoderWeights weights;
  private final RotaryEmbedding rope;
  /** {@code x @ rotateHalf == rotate_half(x)}: one matmul instead of slice, negate and concat. */
  private final NDArray rotateHalf;
  private final DataType computeDtype;
  private final float maskValue;
  private final int heads;
  private final int kvHeads;
  private final int headDim;
  private final float scaling;

  private DecoderModel(Path dir, HfConfig config, NDManager manager, DecoderWeights weights) {
    this.dir = dir;
    this.config = config;
    this.manager = manager;
    this.weights = weights;
    this.rope = new RotaryEmbedding(config);
    this.computeDtype = weights.computeDtype();
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
  }

  /** Loads a checkpoint folder on the CPU in float32. */
  public static DecoderModel load(Path dir) {
    return load(dir, Device.cpu());
  }

  /**
   * Loads a checkpoint folder on a device: float32 on the CPU (what the golden fixtures are
   * computed in), float16 on a GPU. bf16 and f16 weights are widened in Java, since DJL's PyTorch
   * engine cannot hold bfloat16.
   */
  public static DecoderModel load(Path dir, Device device) {
    return load(dir, device, layersDone -> {});
  }

  /** As {@link #load(Path, Device)}, telling {@code progress} how many layers are loaded so far. */
  public static DecoderModel load(Path dir, Device device, java.util.function.IntConsumer progress) {
    HfConfig config = HfConfig.load(dir);
    Torch.engine();
    DataType dtype = device.isGpu() ? DataType.FLOAT16 : DataType.FLOAT32;
    NDManager manager = NDManager.newBaseManager(device, "PyTorch");
    try (SafetensorsReader reader = SafetensorsReader.open(dir)) {
      DecoderWeights weights = DecoderWeights.load(config, reader, manager, dtype, progress);
      return new DecoderModel(dir, config, manager, weights);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  public Path dir() {
    return dir;
  }

  public HfConfig config() {
    return config;
  }

  public Device device() {
    return manager.getDevice();
  }

  /** float32 on the CPU, float16 on a GPU. */
  public DataType computeDtype() {
    return computeDtype;
  }

  public RotaryEmbedding rope() {
    return rope;
  }

  /** An empty cache for a new sequence; close it when the sequence ends. */
  public KvCache newCache() {
    return new KvCache(manager.newSubManager(), config, computeDtype);
  }

  /** Bytes of cache one token occupies: keys and values of every layer. */
  public long kvBytesPerToken() {
    return KvCache.bytesPerToken(config.numHiddenLayers(), kvHeads, headDim, computeDtype);
  }

  /**
   * One forward pass over a batch. Sequence {@code b} feeds {@code newTokens.get(b)} at positions
   * {@code caches.get(b).length()} onward and its cache grows by that many tokens.
   *
   * @return per sequence, the logits {@code [vocab_size]} at its last new token
   */
  public float[][] forward(List<KvCache> caches, List<int[]> newTokens) {
    List<float[][]> all = forward(caches, newTokens, false, null);
    float[][] out = new float[all.size()][];
    for (int b = 0; b < out.length; b++) {
      out[b] = all.get(b)[0];
    }
    return out;
  }

  /** Like {@link #forward(List, List)}, returning the logits at every new token of each sequence. */
  public List<float[][]> forwardAllPositions(List<KvCache> caches, List<int[]> newTokens) {
    return forward(caches, newTokens, true, null);
  }

  /**
   * The forward pass itself.
   *
   * @param allPositions logits at every new token, or only at each sequence's last one (the
   *     lm_head over a long prompt is the costliest matmul, so skip it where unused)
   * @param probe receives intermediates; only for a batch of one sequence, null otherwise
   * @return per sequence, {@code [new tokens or 1][vocab_size]} logits
   */
  public List<float[][]> forward(
      List<KvCache> caches, List<int[]> newTokens, boolean allPositions, ForwardProbe probe) {
    Batch batch = new Batch(caches, newTokens);
    if (probe != null && batch.size() != 1) {
      throw new IllegalArgumentException("a probe records one sequence; got a batch of " + batch.size());
    }
    for (int b = 0; b < batch.size(); b++) {
      caches.get(b).ensureCapacity(batch.past[b] + batch.count[b]);
    }
    int decodeFrom = probe == null ? batch.decodeSuffix() : batch.size();
    int decodeSlots = 0;
    for (int b = decodeFrom; b < batch.size(); b++) decodeSlots = Math.max(decodeSlots, batch.past[b] + 1);
    // The batched decode attention reads every decode cache over the same number of slots.
    for (int b = decodeFrom; b < batch.size(); b++) caches.get(b).ensureCapacity(decodeSlots);
    try (NDManager step = manager.newSubManager()) {
      NDArray x = embed(step.create(batch.ids), weights.embedTokens());
      record(probe, "embeddings", x);

      float[] cos = new float[batch.total * headDim];
      float[] sin = new float[batch.total * headDim];
      rope.fill(batch.positions, cos, sin);
      Shape ropeShape = new Shape(batch.total, 1, headDim);
      NDArray cosA = step.create(cos, ropeShape).toType(computeDtype, false);
      NDArray sinA = step.create(sin, ropeShape).toType(computeDtype, false);
      NDArray[] masks = new NDArray[batch.size()];
      for (int b = 0; b < batch.size(); b++) {
        masks[b] = causalMask(step, batch.past[b], batch.count[b]);
      }

      Decodes decodes = null;
      if (decodeFrom < batch.size()) {
        int n = batch.size() - decodeFrom;
        float[] m = new float[n * decodeSlots];
        for (int i = 0; i < n; i++) {
          for (int j = batch.past[decodeFrom + i] + 1; j < decodeSlots; j++) m[i * decodeSlots + j] = maskValue;
        }
        decodes = new Decodes(decodeFrom, decodeSlots, step.create(m, new Shape(n, 1, 1, decodeSlots)));
      }

      for (int l = 0; l < config.numHiddenLayers(); l++) {
        x = decoderLayer(l, x, batch, cosA, sinA, masks, decodes, step, probe);
      }

      NDArray selected = allPositions ? x : embed(step.create(batch.lastRows()), x);
      NDArray h = rmsNorm(selected, weights.norm());
      record(probe, "final_norm_output", h);
      NDArray logits = linear(h, weights.lmHead(), null);
      float[] flat = logits.toType(DataType.FLOAT32, false).toFloatArray();
      int vocab = config.vocabSize();
      List<float[][]> out = new ArrayList<>(batch.size());
      int row = 0;
      for (int b = 0; b < batch.size(); b++) {
        int rows = allPositions ? batch.count[b] : 1;
        float[][] seq = new float[rows][];
        for (int r = 0; r < rows; r++, row++) {
          seq[r] = java.util.Arrays.copyOfRange(flat, row * vocab, (row + 1) * vocab);
        }
        out.add(seq);
      }
      // Only a pass that completed makes its slots valid.
      for (int b = 0; b < batch.size(); b++) {
        caches.get(b).advance(batch.count[b]);
      }
      return out;
    }
  }

  /**
   * One decoder layer, pre-norm: {@code x += o_proj(attn(input_layernorm(x)))}, then
   * {@code x += down_proj(silu(gate_proj(h)) * up_proj(h))} with
   * {@code h = post_attention_layernorm(x)}. Activations live in a per-layer manager so a long
   * prefill holds one layer's temporaries at a time.
   */
  private NDArray decoderLayer(
      int l, NDArray residual, Batch batch, NDArray cos, NDArray sin, NDArray[] masks, Decodes decodes,
      NDManager step, ForwardProbe probe) {
    DecoderWeights.Layer w = weights.layers().get(l);
    String name = "layer" + l + ".";
    try (NDManager scope = step.newSubManager()) {
      NDArray x = residual;
      x.attach(scope);

      NDArray h = rmsNorm(x, w.inputLayernorm());
      record(probe, name + "input_layernorm_output", h);
      NDArray qkv = linear(h, w.qkvProj(), w.qkvBias()).reshape(batch.total, heads + 2L * kvHeads, headDim);
      NDArray qk = qkv.get(new NDIndex().addAllDim().addSliceDim(0, heads + kvHeads));
      NDArray v = qkv.get(new NDIndex().addAllDim().addSliceDim(heads + kvHeads, heads + 2L * kvHeads));
      if (probe != null) {
        record(probe, name + "q_proj_output", qk.get(new NDIndex().addAllDim().addSliceDim(0, heads)).reshape(batch.total, -1));
        record(probe, name + "k_proj_output", qk.get(new NDIndex().addAllDim().addSliceDim(heads, heads + kvHeads)).reshape(batch.total, -1));
        record(probe, name + "v_proj_output", v.reshape(batch.total, -1));
      }
      if (w.qkNorm() != null) {
        qk = rmsNorm(qk, w.qkNorm()); // Qwen3: q_norm / k_norm over each head's head_dim
      }
      // apply_rotary_pos_emb on q and k heads at once: x * cos + rotate_half(x) * sin
      qk = qk.mul(cos).add(qk.matMul(rotateHalf).mul(sin));

      NDArray attn = attention(l, qk, v, batch, masks, decodes, scope, probe, name);
      NDArray attnOut = linear(attn, w.oProj(), null);
      record(probe, name + "o_proj_output", attnOut);
      x = x.add(attnOut);

      h = rmsNorm(x, w.postAttentionLayernorm());
      record(probe, name + "post_attention_layernorm_output", h);
      NDArray gateUp = linear(h, w.gateUpProj(), null);
      long inter = config.intermediateSize();
      NDArray gate = gateUp.get(new NDIndex().addAllDim().addSliceDim(0, inter));
      NDArray up = gateUp.get(new NDIndex().addAllDim().addSliceDim(inter, 2 * inter));
      NDArray mlp = linear(silu(gate).mul(up), w.downProj(), null);
      record(probe, name + "mlp_output", mlp);
      x = x.add(mlp);
      record(probe, name + "output", x);
      x.attach(step);
      return x;
    }
  }

  /**
   * Causal self-attention per sequence over its cache. Query head {@code h} reads KV head
   * {@code h / (H / KV)} (repeat_interleave): viewing q as {@code [KV, G * n, hd]} lets each KV
   * head serve its group of query heads without copying keys or values.
   *
   * @param qk {@code [N, H + KV, hd]} q and k heads after RoPE
   * @param v {@code [N, KV, hd]}
   * @return {@code [N, H * hd]}
   */
  private NDArray attention(
      int layer, NDArray qk, NDArray v, Batch batch, NDArray[] masks, Decodes decodes, NDManager scope,
      ForwardProbe probe, String name) {
    int group = heads / kvHeads;
    NDList outputs = new NDList(batch.size());
    int perSequence = decodes == null ? batch.size() : decodes.from;
    for (int b = 0; b < perSequence; b++) {
      KvCache cache = batch.caches.get(b);
      int n = batch.count[b];
      int total = batch.past[b] + n;
      NDIndex rows = new NDIndex().addSliceDim(batch.offset[b], batch.offset[b] + n);
      NDArray qkRows = qk.get(rows);
      NDArray q =
          qkRows.get(new NDIndex().addAllDim().addSliceDim(0, heads))
              .reshape(n, kvHeads, group, headDim)
              .transpose(1, 2, 0, 3)
              .reshape(kvHeads, (long) group * n, headDim);
      NDArray k = qkRows.get(new NDIndex().addAllDim().addSliceDim(heads, heads + kvHeads)).transpose(1, 0, 2);
      NDArray vRows = v.get(rows).transpose(1, 0, 2);
      record(probe, name + "q_after_rope", q);
      record(probe, name + "k_after_rope", k);
      cache.write(layer, k, vRows);

      NDArray keys = cache.keys(layer, total, scope);
      NDArray values = cache.values(layer, total, scope);
      NDArray scores = q.matMul(keys.transpose(0, 2, 1)).mul(scaling);
      if (computeDtype != DataType.FLOAT32) {
        scores = scores.toType(DataType.FLOAT32, false); // softmax in float32, as HF's eager attention
      }
      if (masks[b] != null) {
        scores = scores.add(masks[b]);
      }
      NDArray probs = scores.softmax(-1).toType(computeDtype, false);
      record(probe, name + "attention_probs", probs);
      outputs.add(
          probs.matMul(values)
              .reshape(kvHeads, group, n, headDim)
              .transpose(2, 0, 1, 3)
              .reshape(n, (long) heads * headDim));
    }
    if (decodes != null) {
      outputs.add(decodeAttention(layer, qk, v, batch, decodes, scope));
    }
    return outputs.size() == 1 ? outputs.get(0) : NDArrays.concat(outputs, 0);
  }

  /**
   * Attention for the single-token decodes at the end of the batch, all in one set of batched
   * matmuls: their caches are read over the same number of slots and the slots past each
   * sequence's own length are masked. Per sequence only the cache write and read remain.
   *
   * @return {@code [decodes, H * hd]}
   */
  private NDArray decodeAttention(int layer, NDArray qk, NDArray v, Batch batch, Decodes d, NDManager scope) {
    int group = heads / kvHeads;
    int n = batch.size() - d.from;
    int first = batch.offset[d.from];
    NDArray rows = qk.get(new NDIndex().addSliceDim(first, first + n)); // [n, H + KV, hd]
    // The new keys and values of every decode as [n, 2, KV, 1, hd]: one write per sequence.
    NDArray newKv = NDArrays.stack(new NDList(
            rows.get(new NDIndex().addAllDim().addSliceDim(heads, heads + kvHeads)),
            v.get(new NDIndex().addSliceDim(first, first + n))), 1)
        .expandDims(3);
    NDList kvs = new NDList(n);
    for (int i = 0; i < n; i++) {
      KvCache cache = batch.caches.get(d.from + i);
      cache.writeOne(layer, newKv.get(i));
      kvs.add(cache.keysAndValues(layer, d.slots, scope));
    }
    NDArray both = NDArrays.stack(kvs); // [n, 2, KV, slots, hd]
    NDArray k = both.get(new NDIndex().addAllDim().addIndices(0));
    NDArray val = both.get(new NDIndex().addAllDim().addIndices(1));
    // q as [n, KV, G, hd]: query head h reads KV head h / G.
    NDArray q = rows.get(new NDIndex().addAllDim().addSliceDim(0, heads)).reshape(n, kvHeads, group, headDim);
    NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul(scaling);
    if (computeDtype != DataType.FLOAT32) {
      scores = scores.toType(DataType.FLOAT32, false);
    }
    NDArray probs = scores.add(d.mask).softmax(-1).toType(computeDtype, false);
    return probs.matMul(val).reshape(n, (long) heads * headDim);
  }

  /** The single-token decodes at the end of a batch: from which sequence, over how many slots. */
  private record Decodes(int from, int slots, NDArray mask) {}

  /**
   * {@code [G * n, past + n]}: query {@code i} of the new tokens sits in slot {@code past + i} and
   * sees slots {@code 0..past + i}; rows repeat per query head of a group. Null for one token,
   * which sees the whole cache.
   */
  private NDArray causalMask(NDManager step, int past, int n) {
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
    return step.create(mask, new Shape((long) group * n, total)); // float32: added after the upcast
  }

  /** {@code x * rsqrt(mean(x^2) + eps) * weight}, statistics over the last axis. */
  private NDArray rmsNorm(NDArray x, NDArray weight) {
    NDArray variance = x.square().mean(new int[] {-1}, true);
    return x.mul(variance.add((float) config.rmsNormEps()).pow(-0.5f)).mul(weight);
  }

  /** {@code silu(z) = z * sigmoid(z)}. */
  private static NDArray silu(NDArray z) {
    return z.mul(JniUtils.sigmoid((PtNDArray) z));
  }

  private static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
    return JniUtils.linear((PtNDArray) x, (PtNDArray) weight, (PtNDArray) bias);
  }

  /** Rows of {@code table} at {@code ids} (index_select); the result belongs to the ids' manager. */
  private static NDArray embed(NDArray ids, NDArray table) {
    return JniUtils.embedding((PtNDArray) ids, (PtNDArray) table, false);
  }

  private static void record(ForwardProbe probe, String name, NDArray value) {
    if (probe != null) {
      probe.record(name, value.toType(DataType.FLOAT32, false).toFloatArray(), value.getShape().getShape());
    }
  }

  @Override
  public void close() {
    manager.close();
  }

  /** The flattened token layout of one forward pass: sequence {@code b} owns rows {@code offset[b]..}. */
  private static final class Batch {
    final List<KvCache> caches;
    final int[] past;
    final int[] count;
    final int[] offset;
    final int total;
    final long[] ids;
    final int[] positions;

    Batch(List<KvCache> caches, List<int[]> newTokens) {
      if (caches.size() != newTokens.size() || caches.isEmpty()) {
        throw new IllegalArgumentException(
            "need one token array per cache, got " + caches.size() + " caches and " + newTokens.size() + " arrays");
      }
      IdentityHashMap<KvCache, Boolean> seen = new IdentityHashMap<>();
      this.caches = caches;
      int b = caches.size();
      past = new int[b];
      count = new int[b];
      offset = new int[b];
      int t = 0;
      for (int i = 0; i < b; i++) {
        KvCache c = caches.get(i);
        if (c.isClosed() || seen.put(c, Boolean.TRUE) != null) {
          throw new IllegalArgumentException("cache " + i + " is closed or appears twice in the batch");
        }
        if (newTokens.get(i).length == 0) {
          throw new IllegalArgumentException("sequence " + i + " has no new tokens");
        }
        past[i] = c.length();
        count[i] = newTokens.get(i).length;
        offset[i] = t;
        t += count[i];
      }
      total = t;
      ids = new long[t];
      positions = new int[t];
      for (int i = 0; i < b; i++) {
        int[] tokens = newTokens.get(i);
        for (int j = 0; j < tokens.length; j++) {
          ids[offset[i] + j] = tokens[j];
          positions[offset[i] + j] = past[i] + j; // each sequence's own position ids
        }
      }
    }

    int size() {
      return caches.size();
    }

    /**
     * Where the run of single-token decodes (with a cache) that ends the batch starts; size() when
     * fewer than two sequences end it that way (one decode gains nothing from batching).
     */
    int decodeSuffix() {
      int from = size();
      while (from > 0 && count[from - 1] == 1 && past[from - 1] > 0) from--;
      return size() - from >= 2 ? from : size();
    }

    long[] lastRows() {
      long[] rows = new long[size()];
      for (int b = 0; b < rows.length; b++) {
        rows[b] = offset[b] + count[b] - 1;
      }
      return rows;
    }
  }
}
