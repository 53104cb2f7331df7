package io.tandem.inference.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.inference.hf.safetensors.Dtype;
import io.tandem.inference.hf.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A tied-embedding Qwen2 decoder whose weights are trainable NDArrays, with a full-sequence
 * (no cache) forward pass that DJL's autograd can differentiate. The math is {@link DecoderModel}'s
 * own ({@link DecoderStack}), and {@link #save} writes a Hugging Face folder that
 * {@link DecoderModel#load} reads back to the same logits. Weights keep Hugging Face's names and
 * unfused layout; each forward pass fuses them as {@link DecoderWeights} does (a differentiable
 * concat, cheap at the sizes trained here).
 */
public final class TrainableDecoder implements AutoCloseable {

  /** The shape of a model to train; everything else takes Qwen2's defaults. */
  public record Shape2(int vocabSize, int hidden, int intermediate, int layers, int heads, int kvHeads,
      int maxPositions) {
    public int headDim() {
      return hidden / heads;
    }
  }

  private static final double INIT_STD = 0.02;
  private static final float RMS_EPS = 1e-6f;
  private static final double ROPE_THETA = 10000.0;
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Shape2 shape;
  private final NDManager manager;
  private final Map<String, NDArray> params = new LinkedHashMap<>();
  /** Weights that keep a checkpoint's values while the blocks block expansion added are trained. */
  private final java.util.Set<String> frozen = new java.util.HashSet<>();
  /** The layers of the checkpoint {@link #loadWeights} grew this model from; 0 if it did not grow it. */
  private int grownFrom;
  private final DecoderStack stack;

  /** Fresh weights, drawn as Hugging Face initialises Qwen2 (normal, std 0.02; norms 1; biases 0). */
  public TrainableDecoder(Shape2 shape, long seed) {
    this.shape = shape;
    Torch.engine();
    this.manager = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
    SplittableRandom rng = new SplittableRandom(seed);
    int h = shape.hidden();
    int hd = shape.headDim();
    int q = shape.heads() * hd;
    int kv = shape.kvHeads() * hd;
    // Output projections into the residual stream start smaller, so that depth does not blow it up.
    double residualStd = INIT_STD / Math.sqrt(2.0 * shape.layers());
    put("model.embed_tokens.weight", normal(rng, INIT_STD, shape.vocabSize(), h));
    for (int l = 0; l < shape.layers(); l++) {
      String p = "model.layers." + l + ".";
      put(p + "input_layernorm.weight", ones(h));
      put(p + "self_attn.q_proj.weight", normal(rng, INIT_STD, q, h));
      put(p + "self_attn.q_proj.bias", zeros(q));
      put(p + "self_attn.k_proj.weight", normal(rng, INIT_STD, kv, h));
      put(p + "self_attn.k_proj.bias", zeros(kv));
      put(p + "self_attn.v_proj.weight", normal(rng, INIT_STD, kv, h));
      put(p + "self_attn.v_proj.bias", zeros(kv));
      put(p + "self_attn.o_proj.weight", normal(rng, residualStd, h, q));
      put(p + "post_attention_layernorm.weight", ones(h));
      put(p + "mlp.gate_proj.weight", normal(rng, INIT_STD, shape.intermediate(), h));
      put(p + "mlp.up_proj.weight", normal(rng, INIT_STD, shape.intermediate(), h));
      put(p + "mlp.down_proj.weight", normal(rng, residualStd, h, shape.intermediate()));
    }
    put("model.norm.weight", ones(h));
    for (NDArray a : params.values()) {
      a.setRequiresGradient(true);
    }
    this.stack = new DecoderStack(hfConfig(shape, List.of()), manager, DataType.FLOAT32);
  }

  /**
   * Overwrites every weight with the one of the same name in {@code dir}'s safetensors (to continue
   * training). A checkpoint of the same width with fewer layers, {@code L0} dividing this model's
   * {@code L}, is grown by block expansion (LLaMA Pro, Wu et al. 2024, section 3.1): layer {@code i}
   * is a copy of the checkpoint's layer {@code i / (L / L0)}, and in every copy but the first of
   * each group {@code o_proj} and {@code down_proj} are zero, so the added blocks add nothing to the
   * residual stream and the grown model computes what the checkpoint did until training moves them.
   *
   * @throws IllegalArgumentException if a weight's size differs from this shape's, or the
   *     checkpoint's layer count does not divide this model's
   */
  public void loadWeights(Path dir) {
    try (io.tandem.inference.hf.safetensors.SafetensorsReader reader =
        io.tandem.inference.hf.safetensors.SafetensorsReader.open(dir)) {
      int layers0 = (int) reader.names().stream().filter(n -> n.matches("model\\.layers\\.\\d+\\.input_layernorm\\.weight")).count();
      if (layers0 < 1 || shape.layers() % layers0 != 0)
        throw new IllegalArgumentException(dir + " has " + layers0 + " layers; this model has " + shape.layers()
            + ", which block expansion can grow only from a number of layers that divides it");
      int group = shape.layers() / layers0;
      grownFrom = group > 1 ? layers0 : 0;
      java.util.regex.Pattern layerName = java.util.regex.Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
      for (Map.Entry<String, NDArray> e : params.entrySet()) {
        String name = e.getKey();
        java.util.regex.Matcher m = layerName.matcher(name);
        boolean added = false;
        if (m.matches()) {
          int layer = Integer.parseInt(m.group(1));
          added = layer % group != 0;
          name = "model.layers." + layer / group + "." + m.group(2);
        }
        float[] values = reader.readFloats(name);
        if (values.length != e.getValue().getShape().size())
          throw new IllegalArgumentException(name + " in " + dir + " has " + values.length
              + " values; this model's shape needs " + e.getValue().getShape());
        if (added && (name.endsWith(".self_attn.o_proj.weight") || name.endsWith(".mlp.down_proj.weight")))
          java.util.Arrays.fill(values, 0f);
        e.getValue().set(java.nio.FloatBuffer.wrap(values));
        if (group > 1 && !added) {
          // LLaMA Pro trains the added blocks only: what the checkpoint learnt stays as it was.
          e.getValue().setRequiresGradient(false);
          frozen.add(e.getKey());
        }
      }
    }
  }

  /**
   * The weights training updates: all of them, except after {@link #loadWeights} grew the model,
   * when only the added blocks' (LLaMA Pro's recipe).
   */
  public Map<String, NDArray> trainableParameters() {
    Map<String, NDArray> out = new LinkedHashMap<>(params);
    out.keySet().removeAll(frozen);
    return out;
  }

  /** The layers of the checkpoint this model was grown from by {@link #loadWeights}, or 0. */
  public int grownFrom() {
    return grownFrom;
  }

  /** Arrays the model's own manager holds: its weights, and whatever a forward pass wrongly left there. */
  int heldArrays() {
    return ((ai.djl.ndarray.BaseNDManager) manager).getManagedArrays().size();
  }

  public Shape2 shape() {
    return shape;
  }

  /** The weights by Hugging Face name, in the order {@link #save} writes them. */
  public Map<String, NDArray> parameters() {
    return params;
  }

  public long parameterCount() {
    return params.values().stream().mapToLong(a -> a.getShape().size()).sum();
  }

  /**
   * Logits {@code [B, T, vocab]} for every position of {@code ids} ({@code [B, T]}, int64), each
   * row a sequence starting at position 0. Arrays are created in {@code step}.
   */
  public NDArray forward(NDManager step, NDArray ids) {
    long b = ids.getShape().get(0);
    int t = (int) ids.getShape().get(1);
    int heads = shape.heads();
    int kvHeads = shape.kvHeads();
    int hd = shape.headDim();
    NDArray embedding = params.get("model.embed_tokens.weight");
    NDArray x = stack.embed(ids.reshape(b * t), embedding); // [B * T, hidden]: one row per token
    int[] positions = new int[(int) b * t];
    for (int i = 0; i < positions.length; i++) positions[i] = i % t;
    NDArray[] cosSin = stack.rotary(step, positions);
    NDArray mask = stack.causalMask(step, 0, t);
    long[] lead = {b};
    // Every row is a whole sequence from position 0: causal attention over the row, no cache.
    DecoderStack.Attention attention = (layer, qk, v, name) -> {
      NDArray q = stack.groupQueries(qk.get(new NDIndex().addAllDim().addSliceDim(0, heads)), lead, t);
      NDArray k = qk.get(new NDIndex().addAllDim().addSliceDim(heads, heads + kvHeads))
          .reshape(b, t, kvHeads, hd).transpose(0, 2, 1, 3);
      NDArray vv = v.reshape(b, t, kvHeads, hd).transpose(0, 2, 1, 3);
      return stack.ungroup(stack.attend(q, k, vv, mask, null, null), lead, t).reshape(b * t, (long) heads * hd);
    };
    for (int l = 0; l < shape.layers(); l++) {
      x = stack.layer(l, fusedLayer(step, l), x, cosSin, attention, null);
    }
    // Tied: the embedding is the output projection.
    return stack.logits(x, params.get("model.norm.weight"), new LinearWeight.Dense(embedding), null).reshape(b, t, shape.vocabSize());
  }

  /**
   * Layer {@code l}'s weights fused as {@link DecoderWeights} lays them out, still attached to the
   * trained ones in autograd's graph; the fused arrays belong to {@code step} (a concat's result
   * would otherwise join its first input's manager, the model's, and stay until the model closes:
   * a megabyte per layer and step).
   */
  private DecoderWeights.Layer fusedLayer(NDManager step, int l) {
    String p = "model.layers." + l + ".";
    String a = p + "self_attn.";
    return new DecoderWeights.Layer(
        params.get(p + "input_layernorm.weight"),
        new LinearWeight.Dense(
            inStep(step, NDArrays.concat(new NDList(params.get(a + "q_proj.weight"), params.get(a + "k_proj.weight"), params.get(a + "v_proj.weight")))),
            inStep(step, NDArrays.concat(new NDList(params.get(a + "q_proj.bias"), params.get(a + "k_proj.bias"), params.get(a + "v_proj.bias"))))),
        null,
        new LinearWeight.Dense(params.get(a + "o_proj.weight")),
        params.get(p + "post_attention_layernorm.weight"),
        new LinearWeight.Dense(inStep(step, NDArrays.concat(new NDList(params.get(p + "mlp.gate_proj.weight"), params.get(p + "mlp.up_proj.weight"))))),
        new LinearWeight.Dense(params.get(p + "mlp.down_proj.weight")));
  }

  private static NDArray inStep(NDManager step, NDArray a) {
    a.attach(step);
    return a;
  }

  /**
   * Mean next-token cross-entropy over the positions where {@code lossMask} is 1: position
   * {@code i}'s logits predict {@code targets[i]}.
   *
   * @param targets {@code [B, T]} int64, the next token at each position
   * @param lossMask {@code [B, T]} float32
   */
  public NDArray loss(NDManager step, NDArray ids, NDArray targets, NDArray lossMask) {
    NDArray logits = forward(step, ids);
    NDArray logProbs = logits.logSoftmax(-1);
    NDArray picked = logProbs.mul(targets.oneHot(shape.vocabSize())).sum(new int[] {-1});
    return picked.mul(lossMask).sum().div(lossMask.sum()).neg();
  }

  /** Writes a Hugging Face folder: config.json, generation_config.json, model.safetensors (float32). */
  public void save(Path dir, List<Integer> eosTokenIds, Integer bosTokenId) throws IOException {
    Files.createDirectories(dir);
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    for (Map.Entry<String, NDArray> e : new java.util.TreeMap<>(params).entrySet()) {
      float[] values = e.getValue().toFloatArray();
      int[] cursor = {0};
      entries.add(new SafetensorsWriter.Entry(e.getKey(), Dtype.F32, e.getValue().getShape().getShape(),
          (chunk, n) -> {
            System.arraycopy(values, cursor[0], chunk, 0, n);
            cursor[0] += n;
          }));
    }
    SafetensorsWriter.write(dir.resolve("model.safetensors"), entries);

    ObjectNode c = JSON.createObjectNode();
    c.putArray("architectures").add("Qwen2ForCausalLM");
    c.put("attention_dropout", 0.0);
    if (bosTokenId != null) c.put("bos_token_id", bosTokenId);
    c.put("eos_token_id", eosTokenIds.get(0));
    c.put("hidden_act", "silu");
    c.put("hidden_size", shape.hidden());
    c.put("initializer_range", INIT_STD);
    c.put("intermediate_size", shape.intermediate());
    c.put("max_position_embeddings", shape.maxPositions());
    c.put("max_window_layers", shape.layers());
    c.put("model_type", "qwen2");
    c.put("num_attention_heads", shape.heads());
    c.put("num_hidden_layers", shape.layers());
    c.put("num_key_value_heads", shape.kvHeads());
    c.put("rms_norm_eps", (double) RMS_EPS);
    c.putNull("rope_scaling");
    c.put("rope_theta", ROPE_THETA);
    c.put("sliding_window", shape.maxPositions());
    c.put("tie_word_embeddings", true);
    c.put("torch_dtype", "float32");
    c.put("transformers_version", "4.43.1");
    c.put("use_cache", true);
    c.put("use_sliding_window", false);
    c.put("vocab_size", shape.vocabSize());
    JSON.writeValue(dir.resolve("config.json").toFile(), c);

    ObjectNode g = JSON.createObjectNode();
    if (bosTokenId != null) g.put("bos_token_id", bosTokenId);
    var eos = g.putArray("eos_token_id");
    eosTokenIds.forEach(eos::add);
    g.put("do_sample", true);
    g.put("temperature", 0.6);
    g.put("top_k", 50);
    g.put("top_p", 0.95);
    g.put("transformers_version", "4.43.1");
    JSON.writeValue(dir.resolve("generation_config.json").toFile(), g);
  }

  private static HfConfig hfConfig(Shape2 s, List<Integer> eos) {
    return new HfConfig(HfConfig.Architecture.QWEN2, s.vocabSize(), s.hidden(), s.intermediate(), s.layers(),
        s.heads(), s.kvHeads(), s.headDim(), RMS_EPS, ROPE_THETA, null, s.maxPositions(), true, true, "float32",
        null, eos, null, null);
  }

  private void put(String name, NDArray a) {
    params.put(name, a);
  }

  private NDArray normal(SplittableRandom rng, double std, int rows, int cols) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) v[i] = (float) (rng.nextGaussian() * std);
    return manager.create(v, new Shape(rows, cols));
  }

  private NDArray ones(int n) {
    return manager.ones(new Shape(n), DataType.FLOAT32);
  }

  private NDArray zeros(int n) {
    return manager.zeros(new Shape(n), DataType.FLOAT32);
  }

  @Override
  public void close() {
    manager.close();
  }
}
