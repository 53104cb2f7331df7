package io.tandem.inference.hf;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import io.tandem.inference.hf.safetensors.SafetensorsReader;
import io.tandem.inference.hf.safetensors.TensorInfo;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The weights of a decoder, laid out once at load for few large matmuls per layer: q/k/v_proj
 * fused into one {@code qkv_proj}, gate/up_proj into one {@code gate_up_proj}. Immutable and
 * shared by every sequence; activations and caches live elsewhere.
 *
 * @param embedTokens {@code [vocab_size, hidden]} in the compute dtype (float16 when the matrices are packed)
 * @param lmHead the output projection ({@code [vocab_size, hidden]}; the embedding itself in tied
 *     checkpoints, unless packed)
 */
public record DecoderWeights(
    NDArray embedTokens, List<Layer> layers, NDArray norm, LinearWeight lmHead, DataType computeDtype) {

  /**
   * One decoder layer, Hugging Face layout ({@code nn.Linear} weights are {@code [out, in]}).
   *
   * @param qkvProj rows: q_proj ({@code H*hd}), then k_proj, then v_proj ({@code KV*hd} each);
   *     the three biases concatenated the same way (Qwen2), or none (LLaMA, Qwen3)
   * @param qkNorm Qwen3's q_norm weight repeated per query head then k_norm per KV head,
   *     {@code [H+KV, hd]}, or null
   * @param gateUpProj rows: gate_proj then up_proj ({@code intermediate_size} each)
   */
  public record Layer(
      NDArray inputLayernorm,
      LinearWeight qkvProj,
      NDArray qkNorm,
      LinearWeight oProj,
      NDArray postAttentionLayernorm,
      LinearWeight gateUpProj,
      LinearWeight downProj) {}

  /**
   * How the float32 matrices are multiplied on the CPU, for a load's log line: through oneDNN,
   * through {@code aten::linear}, or some of each; empty where the question does not arise
   * (float16, a GPU).
   */
  public String matricesLine() {
    if (computeDtype != DataType.FLOAT32 || embedTokens.getDevice().isGpu()) return "";
    long oneDnn = 0;
    long all = 0;
    List<LinearWeight> matrices = new ArrayList<>(List.of(lmHead));
    for (Layer l : layers) matrices.addAll(List.of(l.qkvProj(), l.oProj(), l.gateUpProj(), l.downProj()));
    for (LinearWeight w : matrices) {
      if (w instanceof LinearWeight.PackedFloat16) return "";
      all++;
      if (w instanceof LinearWeight.PackedFloat32) oneDnn++;
    }
    if (oneDnn == 0) return "float32 matrices through aten::linear";
    return oneDnn == all ? "float32 matrices through oneDNN" : "float32 matrices through oneDNN, " + (all - oneDnn) + " of "
        + all + " through aten::linear";
  }

  /**
   * Frees what the model's manager does not own: the packed matrices. The arrays go with the
   * manager they were loaded into.
   */
  public void close() {
    for (Layer l : layers)
      for (LinearWeight w : List.of(l.qkvProj(), l.oProj(), l.gateUpProj(), l.downProj()))
        close(w);
    close(lmHead);
  }

  private static void close(LinearWeight w) {
    if (w instanceof LinearWeight.PackedFloat16 p) p.close();
    if (w instanceof LinearWeight.PackedFloat32 p) p.close();
  }

  /** Tensors bigger than this are filled in row blocks, since one Java buffer stops at 2 GiB. */
  private static final long MAX_BLOCK_BYTES = 1L << 30;

  /**
   * Loads every weight into {@code manager} (on its device) in {@code computeDtype}, checking each
   * shape against the config.
   */
  public static DecoderWeights load(
      HfConfig config, SafetensorsReader reader, NDManager manager, DataType computeDtype) {
    return load(config, reader, manager, computeDtype, false, layersDone -> {});
  }

  /**
   * As above, telling {@code progress} how many decoder layers are loaded after each one.
   *
   * @param packedHalf the matrices (and the lm_head) rounded to float16 and packed for FBGEMM's
   *     GEMM, each float32 original freed once packed ({@link Precision#FLOAT16} on the CPU;
   *     {@code computeDtype} must be float32)
   */
  public static DecoderWeights load(HfConfig config, SafetensorsReader reader, NDManager manager,
      DataType computeDtype, boolean packedHalf, java.util.function.IntConsumer progress) {
    if (packedHalf && (computeDtype != DataType.FLOAT32 || manager.getDevice().isGpu()))
      throw new IllegalArgumentException("FBGEMM-packed float16 weights are for float32 activations on the CPU");
    Loader l = new Loader(config, reader, manager, computeDtype, packedHalf);
    int hidden = config.hiddenSize();
    int h = config.numAttentionHeads();
    int kv = config.numKeyValueHeads();
    int hd = config.headDim();
    int inter = config.intermediateSize();
    NDArray embed = l.load(new long[] {config.vocabSize(), hidden}, "model.embed_tokens.weight");
    List<Layer> layers = new ArrayList<>();
    for (int i = 0; i < config.numHiddenLayers(); i++) {
      String p = "model.layers." + i + ".";
      NDArray qkvBias =
          config.attentionBias()
              ? l.load(
                  new long[] {(long) (h + 2 * kv) * hd},
                  p + "self_attn.q_proj.bias",
                  p + "self_attn.k_proj.bias",
                  p + "self_attn.v_proj.bias")
              : null;
      NDArray qkNorm = null;
      if (config.architecture().hasQkNorm()) {
        float[] q = l.floats(p + "self_attn.q_norm.weight", hd);
        float[] k = l.floats(p + "self_attn.k_norm.weight", hd);
        float[] both = new float[(h + kv) * hd];
        for (int head = 0; head < h + kv; head++) {
          System.arraycopy(head < h ? q : k, 0, both, head * hd, hd);
        }
        qkNorm = l.fromFloats(both, new Shape(h + kv, hd));
      }
      layers.add(
          new Layer(
              l.load(new long[] {hidden}, p + "input_layernorm.weight"),
              l.matrix(
                  new long[] {(long) (h + 2 * kv) * hd, hidden},
                  qkvBias,
                  p + "self_attn.q_proj.weight",
                  p + "self_attn.k_proj.weight",
                  p + "self_attn.v_proj.weight"),
              qkNorm,
              l.matrix(new long[] {hidden, (long) h * hd}, null, p + "self_attn.o_proj.weight"),
              l.load(new long[] {hidden}, p + "post_attention_layernorm.weight"),
              l.matrix(new long[] {2L * inter, hidden}, null, p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"),
              l.matrix(new long[] {hidden, inter}, null, p + "mlp.down_proj.weight")));
      progress.accept(i + 1);
    }
    NDArray norm = l.load(new long[] {hidden}, "model.norm.weight");
    // Tied checkpoints (Qwen2.5 0.5B/1.5B) have no lm_head.weight: the embedding is the projection. One
    // that has one anyway is not read, as vLLM skips lm_head.* of a tied model (DecoderModel warns of it).
    LinearWeight lmHead =
        config.tieWordEmbeddings()
            ? l.packed ? new LinearWeight.PackedFloat16(embed, null)
                : l.oneDnn ? l.oneDnnOrDense(embed, null) : new LinearWeight.Dense(embed)
            : l.matrix(new long[] {config.vocabSize(), hidden}, null, "lm_head.weight");
    if (l.packed) {
      // The embedding is only looked up (a row per token, widened to float32), so float16 serves.
      NDArray half = embed.toType(DataType.FLOAT16, false);
      half.attach(manager);
      embed.close();
      embed = half;
    }
    return new DecoderWeights(embed, List.copyOf(layers), norm, lmHead, computeDtype);
  }

  /**
   * Checks every tensor {@link #load} reads against the safetensors headers, with the shape
   * config.json implies, before any is read: a missing or misshaped tensor is then named in the time
   * the headers take, not after the layers before it have loaded (a tester's 0.5B-shaped checkpoint
   * without layer 23's down_proj failed 14 s in, at 18 of 24 layers; a 32B model's would take
   * minutes). The names are Hugging Face's ({@code modeling_qwen2.py}, {@code modeling_llama.py},
   * {@code modeling_qwen3.py}); an {@code lm_head.weight} is read only when the embedding is not tied.
   *
   * @throws CheckpointException naming the first tensor missing or of another shape
   */
  static void requireTensors(HfConfig config, SafetensorsReader reader) {
    long hidden = config.hiddenSize();
    long hd = config.headDim();
    long q = (long) config.numAttentionHeads() * hd;
    long kv = (long) config.numKeyValueHeads() * hd;
    long inter = config.intermediateSize();
    java.util.Map<String, long[]> expected = new java.util.LinkedHashMap<>();
    expected.put("model.embed_tokens.weight", new long[] {config.vocabSize(), hidden});
    for (int i = 0; i < config.numHiddenLayers(); i++) {
      String p = "model.layers." + i + ".";
      expected.put(p + "input_layernorm.weight", new long[] {hidden});
      expected.put(p + "self_attn.q_proj.weight", new long[] {q, hidden});
      expected.put(p + "self_attn.k_proj.weight", new long[] {kv, hidden});
      expected.put(p + "self_attn.v_proj.weight", new long[] {kv, hidden});
      if (config.attentionBias()) {
        expected.put(p + "self_attn.q_proj.bias", new long[] {q});
        expected.put(p + "self_attn.k_proj.bias", new long[] {kv});
        expected.put(p + "self_attn.v_proj.bias", new long[] {kv});
      }
      if (config.architecture().hasQkNorm()) {
        expected.put(p + "self_attn.q_norm.weight", new long[] {hd});
        expected.put(p + "self_attn.k_norm.weight", new long[] {hd});
      }
      expected.put(p + "self_attn.o_proj.weight", new long[] {hidden, q});
      expected.put(p + "post_attention_layernorm.weight", new long[] {hidden});
      expected.put(p + "mlp.gate_proj.weight", new long[] {inter, hidden});
      expected.put(p + "mlp.up_proj.weight", new long[] {inter, hidden});
      expected.put(p + "mlp.down_proj.weight", new long[] {hidden, inter});
    }
    expected.put("model.norm.weight", new long[] {hidden});
    if (!config.tieWordEmbeddings()) expected.put("lm_head.weight", new long[] {config.vocabSize(), hidden});
    expected.forEach((name, shape) -> requireShape(reader.info(name), shape, name));
  }

  private static void requireShape(TensorInfo info, long[] expected, String name) {
    if (!Arrays.equals(info.shape(), expected)) {
      throw new CheckpointException(
          name + " in " + info.file() + " has shape " + info.shapeString() + " but config.json implies "
              + Arrays.toString(expected));
    }
  }

  /** Reads tensors into native arrays, one concatenated array per call. */
  private static final class Loader {
    private final HfConfig config;
    private final SafetensorsReader reader;
    private final NDManager manager;
    private final DataType dtype;
    private final NDManager cpu;
    private final boolean packed;
    /** Float32 matrices on the CPU packed for oneDNN ({@link LinearWeight.PackedFloat32}). */
    private final boolean oneDnn;

    Loader(HfConfig config, SafetensorsReader reader, NDManager manager, DataType dtype, boolean packed) {
      this.config = config;
      this.reader = reader;
      this.manager = manager;
      this.dtype = dtype;
      this.packed = packed;
      this.oneDnn = !packed && dtype == DataType.FLOAT32 && !manager.getDevice().isGpu() && OneDnn.enabled();
      this.cpu = manager.getDevice().isGpu() ? manager.newSubManager(Device.cpu()) : manager;
    }

    /**
     * {@link #load} as a matrix with its bias (or null): packed for FBGEMM (both freed at once),
     * for oneDNN (the plain weight freed unless it is small), or plain.
     */
    LinearWeight matrix(long[] shape, NDArray bias, String... names) {
      NDArray weight = load(shape, names);
      if (oneDnn) {
        LinearWeight w = oneDnnOrDense(weight, bias);
        if (w instanceof LinearWeight.PackedFloat32 p && p.plain() == null) weight.close();
        return w;
      }
      if (!packed) return new LinearWeight.Dense(weight, bias);
      LinearWeight half = new LinearWeight.PackedFloat16(weight, bias);
      weight.close();
      if (bias != null) bias.close();
      return half;
    }

    /** The weight packed for oneDNN, or plain where oneDNN's products by it were wrong ({@link OneDnn#verify}). */
    LinearWeight oneDnnOrDense(NDArray weight, NDArray bias) {
      IValue packed = null;
      try {
        packed = OneDnn.pack(weight);
        if (OneDnn.verify(weight, packed)) return new LinearWeight.PackedFloat32(weight, bias, packed);
      } catch (ai.djl.engine.EngineException e) {
        // A libtorch that cannot lay this weight out: aten::linear multiplies it, as before oneDNN.
        org.slf4j.LoggerFactory.getLogger(DecoderWeights.class).warn("oneDNN could not lay out a {} weight; it is"
            + " multiplied by aten::linear ({})", weight.getShape(), e.getMessage().strip());
      }
      if (packed != null) packed.close();
      return new LinearWeight.Dense(weight, bias);
    }

    float[] floats(String name, long length) {
      check(reader.info(name), new long[] {length}, name);
      return reader.readFloats(name);
    }

    NDArray fromFloats(float[] values, Shape shape) {
      return place(cpu.create(values, shape));
    }

    /**
     * Loads the named tensors, concatenated along dim 0, into one array of {@code shape}. Each
     * part must have the shape the config implies ({@code shape} with its share of the rows).
     */
    NDArray load(long[] shape, String... names) {
      long rows = shape[0];
      long rowElems = Arrays.stream(shape).skip(1).reduce(1, (a, b) -> a * b);
      long partRows = rows / names.length;
      if (names.length == 3) {
        // q/k/v: q has H*hd rows, k and v KV*hd each.
        partRows = -1;
      }
      List<TensorInfo> parts = new ArrayList<>();
      long totalRows = 0;
      for (String n : names) {
        TensorInfo info = reader.info(n);
        long[] expected = shape.clone();
        expected[0] = partRows >= 0 ? partRows : expectedQkvRows(n);
        check(info, expected, n);
        parts.add(info);
        totalRows += expected[0];
      }
      if (totalRows != rows) {
        throw new IllegalStateException("row count mismatch while fusing " + Arrays.toString(names));
      }
      long blockRows = Math.max(1, Math.min(rows, MAX_BLOCK_BYTES / 4 / Math.max(1, rowElems)));
      if (blockRows >= rows) {
        NDArray out = cpu.create(new Shape(shape), DataType.FLOAT32);
        FloatBuffer buf = direct(out);
        for (TensorInfo p : parts) {
          reader.readFloat32(p.name(), buf);
        }
        return place(out);
      }
      // Only a single huge tensor (an embedding past 2 GiB) takes this path.
      if (parts.size() != 1) {
        throw new IllegalStateException("fused tensors over 1 GiB are not supported: " + Arrays.toString(names));
      }
      NDList blocks = new NDList();
      for (long start = 0; start < rows; start += blockRows) {
        long n = Math.min(blockRows, rows - start);
        NDArray block = cpu.create(new Shape(n, rowElems), DataType.FLOAT32);
        FloatBuffer dest = direct(block);
        reader.readFloat32(parts.get(0).name(), start * rowElems, n * rowElems, dest);
        blocks.add(block);
      }
      NDArray out = NDArrays.concat(blocks, 0).reshape(new Shape(shape));
      blocks.close();
      return place(out);
    }

    private long expectedQkvRows(String name) {
      int hd = config.headDim();
      return name.contains("q_proj") ? (long) config.numAttentionHeads() * hd : (long) config.numKeyValueHeads() * hd;
    }

    private void check(TensorInfo info, long[] expected, String name) {
      requireShape(info, expected, name);
    }

    /** A float view of a freshly allocated CPU tensor's own memory, so no extra copy is made. */
    private static FloatBuffer direct(NDArray array) {
      return ((PtNDArray) array).toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** Moves a float32 CPU array to the manager's device and dtype. */
    private NDArray place(NDArray cpuArray) {
      if (cpu == manager && dtype == DataType.FLOAT32) {
        return cpuArray;
      }
      NDArray onDevice = cpuArray.toDevice(manager.getDevice(), false).toType(dtype, false);
      onDevice.attach(manager);
      cpuArray.close();
      return onDevice;
    }
  }
}
