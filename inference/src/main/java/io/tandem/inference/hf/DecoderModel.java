package io.tandem.inference.hf;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.tandem.inference.hf.safetensors.SafetensorsReader;
import io.tandem.protocol.text.Clipped;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * A Qwen2 / LLaMA / Qwen3 decoder loaded from a Hugging Face checkpoint folder, running batched
 * forward passes in which every sequence brings its own {@link KvCache} and any number of new
 * tokens (prefills and single-token decodes together). The math is {@link DecoderStack}'s; this
 * class adds the caches. Weights are shared and immutable; all calls must come from one thread.
 */
public final class DecoderModel implements AutoCloseable {

  private final Path dir;
  private final HfConfig config;
  private final NDManager manager;
  private final DecoderWeights weights;
  private final Precision precision;
  private final DecoderStack stack;
  private final DataType computeDtype;
  private final int heads;
  private final int kvHeads;
  private final int headDim;
  /** The whole-step TorchScript decode, or null where the weights need the per-op path or it was not asked for. */
  private final DecodeStep decodeStep;
  private final boolean perOpAsked;
  /** Every sequence's key/value cache, one row each. */
  private final KvPool pool;

  private DecoderModel(
      Path dir, HfConfig config, NDManager manager, DecoderWeights weights, Precision precision, boolean wholeStep) {
    this.dir = dir;
    this.config = config;
    this.manager = manager;
    this.weights = weights;
    this.precision = precision;
    this.computeDtype = weights.computeDtype();
    this.stack = new DecoderStack(config, manager, computeDtype);
    this.heads = config.numAttentionHeads();
    this.kvHeads = config.numKeyValueHeads();
    this.headDim = config.headDim();
    this.decodeStep = wholeStep ? DecodeStep.of(config, weights, stack.rotateHalf()) : null;
    this.perOpAsked = !wholeStep;
    this.pool = new KvPool(manager.newSubManager(), config, computeDtype);
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
    return load(dir, device, device.isGpu() ? Precision.FLOAT16 : Precision.FLOAT32, layersDone -> {});
  }

  /**
   * Loads a checkpoint folder on a device in a {@link Precision}, telling {@code progress} how many
   * layers are loaded so far.
   *
   * @throws CheckpointException if the folder's tensors do not match its config.json
   */
  public static DecoderModel load(Path dir, Device device, Precision precision, IntConsumer progress) {
    return load(dir, device, precision, progress, !Boolean.getBoolean(PER_OP_DECODE));
  }

  /**
   * The system property that, set to {@code true}, runs decode steps op by op through DJL instead of
   * as one TorchScript call ({@link DecodeStep}): the path before it, kept for comparisons.
   */
  public static final String PER_OP_DECODE = "tandem.per-op-decode";

  /**
   * What can be told of the checkpoint in {@code dir} without loading it, as {@link #load} tells it
   * first: its config.json, the safetensors headers, and every tensor's name and shape against the
   * config. No libtorch, and only headers read: a launcher checks both models of a pair so before
   * either loads (a tester's broken small model was named only once a large one had loaded).
   *
   * @throws CheckpointException naming the file and what is wrong with it
   */
  public static void check(Path dir) {
    HfConfig config = HfConfig.load(dir);
    try (SafetensorsReader reader = SafetensorsReader.open(dir)) {
      requireWeightsFit(dir, config, reader);
    }
  }

  /** As {@link #load(Path, Device, Precision, IntConsumer)}, choosing the decode path ({@link #PER_OP_DECODE}). */
  static DecoderModel load(Path dir, Device device, Precision precision, IntConsumer progress, boolean wholeStep) {
    HfConfig config = HfConfig.load(dir);
    Torch.engine();
    boolean allHalf = device.isGpu() && precision == Precision.FLOAT16;
    DataType dtype = allHalf ? DataType.FLOAT16 : DataType.FLOAT32;
    NDManager manager = NDManager.newBaseManager(device, "PyTorch");
    boolean packedHalf = precision == Precision.FLOAT16 && !allHalf;
    try (SafetensorsReader reader = SafetensorsReader.open(dir)) {
      requireWeightsFit(dir, config, reader);
      if (config.tieWordEmbeddings() && reader.contains("lm_head.weight"))
        org.slf4j.LoggerFactory.getLogger(DecoderModel.class).warn("{}: config.json says \"tie_word_embeddings\": true, so the"
            + " lm_head.weight the weights also hold is not read: the embedding is the output projection, as in vLLM (which"
            + " skips lm_head.* of a tied model) and transformers 4 (its tie_weights(); transformers 5.18 reads that lm_head"
            + " instead); if that lm_head is the one to use, set \"tie_word_embeddings\": false", dir);
      DecoderWeights weights = DecoderWeights.load(config, reader, manager, dtype, packedHalf, progress);
      warnUnused(dir, config, reader);
      return new DecoderModel(dir, config, manager, weights, precision, wholeStep);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /**
   * Warns of the tensors the load did not read, as transformers does ("Some weights of the model checkpoint ... were
   * not used"): a tensor the architecture has no place for is dropped, and the answers may then not be the
   * checkpoint's (tester59b: an extra tensor was dropped without a word). A tied model's lm_head is warned of above,
   * and rotary inv_freq buffers, which older checkpoints hold and transformers ignores, are left out.
   */
  private static void warnUnused(Path dir, HfConfig config, SafetensorsReader reader) {
    java.util.List<String> unused = reader.unread().stream()
        .filter(n -> !n.endsWith("rotary_emb.inv_freq") && !(config.tieWordEmbeddings() && n.equals("lm_head.weight"))).toList();
    if (unused.isEmpty()) return;
    // A layer past num_hidden_layers is the config's number at fault, likelier than the architecture (tester59g).
    // (As a number of any size: tester59h's layer 99999999999 stopped the load with Java's parse error.)
    java.util.function.Predicate<String> past = n -> n.matches("model\\.layers\\.\\d+\\..*")
        && new java.math.BigInteger(n.split("\\.")[2]).compareTo(java.math.BigInteger.valueOf(config.numHiddenLayers())) >= 0;
    boolean beyond = unused.stream().anyMatch(past);
    // Those past the layers first, so that the list shows what the advice is about.
    unused = java.util.stream.Stream.concat(unused.stream().filter(past), unused.stream().filter(past.negate())).toList();
    org.slf4j.LoggerFactory.getLogger(DecoderModel.class).warn("{}: {} of the weights {} not used by {}, as transformers would"
        + " not use {} either: {}{}; {}", dir, unused.size() == 1 ? "1 tensor" : unused.size() + " tensors",
        unused.size() == 1 ? "is" : "are", config.architecture().hfName(), unused.size() == 1 ? "it" : "them",
        String.join(", ", unused.subList(0, Math.min(5, unused.size()))), unused.size() > 5 ? ", ..." : "",
        beyond ? "the weights hold tensors of layers past config.json's num_hidden_layers " + config.numHiddenLayers()
            + ": the config may not belong to these weights"
            : (unused.size() == 1 ? "if it matters" : "if they matter") + ", this is not the architecture the checkpoint was written for");
  }

  /**
   * Weights that the config would leave unused, or that lack what it names, are refused naming the
   * config key: transformers warns of unused weights and runs the model without them, whose
   * answers would then be noise.
   *
   * @throws CheckpointException naming the folder, the weights and the config key at fault
   */
  private static void requireWeightsFit(Path dir, HfConfig config, SafetensorsReader reader) {
    // No tensor under model.: the names are at fault, not the config (tester59b: a base model's weights, as
    // AutoModel.save_pretrained writes them, were said to lack the config's last layer).
    if (reader.names().stream().noneMatch(n -> n.startsWith("model."))) {
      String example = reader.names().stream().filter(n -> n.contains("layers.0.")).findFirst()
          .orElse(reader.names().stream().sorted().findFirst().orElse(""));
      String prefix = example.contains("layers.") ? example.substring(0, example.indexOf("layers.")) : null;
      throw new CheckpointException(dir + ": no tensor of the weights is named under model. (as model.layers.0.* and"
          + " model.embed_tokens.weight of a ...ForCausalLM checkpoint), they are named as " + Clipped.of(example)
          + (prefix == null ? "" : prefix.isEmpty() ? " (a base model's names, as AutoModel saves them)" : " (under " + prefix + ")")
          + ": give the causal-LM checkpoint (AutoModelForCausalLM.save_pretrained writes model.* and lm_head.weight)");
    }
    String last = "model.layers." + (config.numHiddenLayers() - 1) + ".";
    if (reader.names().stream().noneMatch(n -> n.startsWith(last))) {
      throw new CheckpointException(dir + ": config.json says num_hidden_layers " + config.numHiddenLayers()
          + " but the weights have no layer " + (config.numHiddenLayers() - 1) + " (" + last
          + "*): the config does not belong to these weights");
    }
    if (!config.tieWordEmbeddings() && !reader.contains("lm_head.weight")) {
      throw new CheckpointException(dir + ": the weights have no lm_head.weight and config.json does not say "
          + "\"tie_word_embeddings\": true (a model that ties its output projection to its embedding needs it)");
    }
    String beyond = "model.layers." + config.numHiddenLayers() + ".";
    if (reader.names().stream().anyMatch(n -> n.startsWith(beyond))) {
      throw new CheckpointException(dir + ": the weights have a layer " + config.numHiddenLayers() + " (" + beyond
          + "*) but config.json says num_hidden_layers " + config.numHiddenLayers()
          + ": the config does not belong to these weights");
    }
    if (!config.attentionBias() && reader.names().contains("model.layers.0.self_attn.q_proj.bias")) {
      // A Qwen2 checkpoint under a LLaMA config would run without its q/k/v biases.
      throw new CheckpointException(dir + ": the weights have q/k/v biases (model.layers.0.self_attn.q_proj.bias) but "
          + config.architecture().hfName() + " without \"attention_bias\": true does not use them: the config does not "
          + "belong to these weights");
    }
    if (!config.architecture().hasQkNorm() && reader.names().contains("model.layers.0.self_attn.q_norm.weight")) {
      // Qwen3 weights under a LLaMA or Qwen2 config would run without their q/k norms.
      throw new CheckpointException(dir + ": the weights have q/k norms (model.layers.0.self_attn.q_norm.weight) but "
          + config.architecture().hfName() + " does not use them: the config does not belong to these weights");
    }
    DecoderWeights.requireTensors(config, reader);
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

  /** The dtype of activations and of the KV cache: float32, but float16 everywhere for float16 on a GPU. */
  public DataType computeDtype() {
    return computeDtype;
  }

  /** The precision this model was loaded in. */
  public Precision precision() {
    return precision;
  }

  public RotaryEmbedding rope() {
    return stack.rope();
  }

  /** Whether a batch of single-token decodes runs as one TorchScript call ({@link DecodeStep}). */
  public boolean decodesInOneCall() {
    return decodeStep != null;
  }

  /**
   * How the matrices are multiplied and decode steps run, for a load's log line: {@code float32
   * matrices through oneDNN; decode steps in one TorchScript call}, or what differs and why.
   */
  public String decodeStepsLine() {
    String matrices = weights.matricesLine();
    String steps = decodeStep != null ? "decode steps in one TorchScript call"
        : perOpAsked ? "decode steps op by op (as asked, " + PER_OP_DECODE + ")"
        : "decode steps op by op (these weights' layout has no one-call step)";
    return matrices.isEmpty() ? steps : matrices + "; " + steps;
  }

  /** An empty cache for a new sequence (a row of the model's {@link KvPool} from its first token); close it when the sequence ends. */
  public KvCache newCache() {
    return new KvCache(pool);
  }

  /** The pool holding every sequence's cache (for tests). */
  KvPool pool() {
    return pool;
  }

  /** Bytes of cache one token occupies: keys and values of every layer. */
  public long kvBytesPerToken() {
    return KvCache.bytesPerToken(config.numHiddenLayers(), kvHeads, headDim, computeDtype);
  }

  /**
   * Bytes the KV pool would hold for caches of {@code cachedTokens} tokens each, were they its only
   * ones (its rows and capacity rounded up as it grows them); 0 for none.
   */
  public long kvBytesFor(int[] cachedTokens) {
    int longest = 0;
    for (int n : cachedTokens) longest = Math.max(longest, n);
    return pool.bytesFor(cachedTokens.length, longest);
  }

  /** Whether {@code newRows} more caches, and caches of {@code longest} tokens, need the KV pool to grow ({@link KvPool#growsFor}). */
  public boolean kvPoolGrowsFor(int newRows, int longest) {
    return pool.growsFor(newRows, longest);
  }

  /** Whether one more cache would make a large KV pool double, copying all it holds ({@link KvPool#growthCopiesMuch}). */
  public boolean newKvCacheCopiesPool() {
    return pool.growthCopiesMuch();
  }

  /** Runs {@code frees} with the KV pool's shrinking held to its end ({@link KvPool#releasingMany}). */
  public void releasingKvCaches(Runnable frees) {
    pool.releasingMany(frees);
  }

  /** Shrinks the KV pool to the smallest layout of the live caches ({@link KvPool#compact}). */
  public void trimKvCache() {
    pool.compact();
  }

  /**
   * What one forward pass leaves per sequence: the greedy token, computed where the logits are
   * (so a greedy sequence copies one id, not a row of {@code vocab_size} floats), and the logits
   * where they were asked for.
   *
   * @param argmax per sequence, the id of its largest logit (the lowest id on ties)
   * @param logits per sequence, its logits {@code [vocab_size]} at its last new token, or null
   *     where not asked for
   * @param top per sequence where a top-k was asked for, its top-k candidates; null elsewhere
   */
  public record Next(int[] argmax, float[][] logits, TopLogits[] top) {
    Next(int[] argmax, float[][] logits) {
      this(argmax, logits, new TopLogits[argmax.length]);
    }
  }

  /**
   * The candidates of top-k sampling for one sequence, chosen where the logits are: every id whose
   * logit is at least the k-th largest (HF's {@code TopKLogitsWarper} keeps ties with the k-th, so
   * there may be more than k), in no particular order, with its logit.
   */
  public record TopLogits(int[] ids, float[] logits) {}

  /** {@link #forward(List, List, int[])} asking for no logits ({@code -1}). */
  public static final int ARGMAX_ONLY = -1;

  /** {@link #forward(List, List, int[])} asking for a sequence's whole row of logits ({@code 0}). */
  public static final int WHOLE_ROW = 0;

  /**
   * One forward pass over a batch. Sequence {@code b} feeds {@code newTokens.get(b)} at positions
   * {@code caches.get(b).length()} onward and its cache grows by that many tokens.
   *
   * @param wantLogits per sequence, whether to copy its logits out (a sampler needs them; greedy
   *     decoding needs only {@link Next#argmax})
   * @throws IllegalArgumentException if the lists differ in size, a sequence has no new tokens, a
   *     cache is closed or appears twice, or a sequence would pass the context (HfConfig#contextLength)
   */
  public Next forward(List<KvCache> caches, List<int[]> newTokens, boolean[] wantLogits) {
    if (wantLogits.length != caches.size()) {
      throw new IllegalArgumentException(
          "need one wantLogits flag per cache, got " + wantLogits.length + " for " + caches.size() + " caches");
    }
    int[] want = new int[wantLogits.length];
    for (int b = 0; b < want.length; b++) want[b] = wantLogits[b] ? WHOLE_ROW : ARGMAX_ONLY;
    return forward(caches, newTokens, want);
  }

  /**
   * As {@link #forward(List, List, boolean[])}, with per sequence what to copy out beside the
   * argmax: nothing ({@link #ARGMAX_ONLY}), its whole row of logits ({@link #WHOLE_ROW}), or, for
   * {@code k} from 1 to {@code vocab_size - 1}, its top-k candidates ({@link Next#top}), chosen
   * where the logits are, so a top-k sampler copies about k ids and logits instead of {@code
   * vocab_size} floats (where the k-th largest logit ties with others beyond the k, the whole row
   * is copied instead, and the sampler chooses as it would from it).
   *
   * @throws IllegalArgumentException as the other form, or when a {@code k} is not below {@code vocab_size}
   */
  public Next forward(List<KvCache> caches, List<int[]> newTokens, int[] wantLogits) {
    if (wantLogits.length != caches.size()) {
      throw new IllegalArgumentException(
          "need one wantLogits entry per cache, got " + wantLogits.length + " for " + caches.size() + " caches");
    }
    for (int k : wantLogits) {
      if (k < ARGMAX_ONLY || k >= config.vocabSize()) {
        throw new IllegalArgumentException("top-k " + k + " must be below vocab_size " + config.vocabSize());
      }
    }
    return pass(new Batch(caches, newTokens), false, null, nextReader(wantLogits));
  }

  /**
   * Reads a pass's argmax per sequence, its logits where {@code wantLogits} asks for the whole row,
   * and its top-k candidates where it asks for those ({@link #forward(List, List, int[])}).
   */
  private Reader<Next> nextReader(int[] wantLogits) {
    return (logits, batch) -> {
      long[] ids = logits.argMax(-1).toLongArray();
      int n = ids.length;
      int[] argmax = new int[n];
      for (int b = 0; b < n; b++) argmax[b] = (int) ids[b];
      int[] want = wantLogits.clone();
      TopLogits[] top = new TopLogits[n];
      for (int b = 0; b < n; b++) {
        if (want[b] > 0 && top[b] == null) readTopK(logits, want, want[b], top);
      }
      float[][] rows = new float[n][];
      int wanted = 0;
      for (int w : want) if (w == WHOLE_ROW) wanted++;
      if (wanted == n) {
        float[][][] all = copyRows(logits, batch, false);
        for (int b = 0; b < n; b++) rows[b] = all[b][0];
      } else if (wanted > 0) {
        long[] which = new long[wanted];
        for (int b = 0, j = 0; b < n; b++) if (want[b] == WHOLE_ROW) which[j++] = b;
        float[] flat = toFloats(logits.get(logits.getManager().create(which)));
        int vocab = config.vocabSize();
        for (int b = 0, j = 0; b < n; b++) {
          if (want[b] == WHOLE_ROW) rows[b] = Arrays.copyOfRange(flat, j * vocab, ++j * vocab);
        }
      }
      return new Next(argmax, rows, top);
    };
  }

  /**
   * The top-k candidates of every row asking for this {@code k}, chosen on the logits' device:
   * the k largest and, to see whether the k-th ties with logits beyond them, how many are at
   * least the k-th. A row with such ties is switched to {@link #WHOLE_ROW} in {@code want}.
   */
  static void readTopK(NDArray logits, int[] want, int k, TopLogits[] top) {
    int count = 0;
    for (int w : want) if (w == k) count++;
    long[] which = new long[count];
    for (int b = 0, j = 0; b < want.length; b++) if (want[b] == k) which[j++] = b;
    NDArray rows = logits.get(logits.getManager().create(which));
    ai.djl.ndarray.NDList best = rows.topK(k, -1, true, false);
    NDArray values = best.get(0);
    long[] atLeastKth = rows.gte(values.min(new int[] {-1}, true)).sum(new int[] {-1})
        .toType(ai.djl.ndarray.types.DataType.INT64, false).toLongArray();
    float[] v = toFloats(values);
    long[] i = best.get(1).toLongArray();
    for (int j = 0; j < count; j++) {
      int b = (int) which[j];
      if (atLeastKth[j] > k) {
        want[b] = WHOLE_ROW;
        continue;
      }
      int[] ids = new int[k];
      for (int c = 0; c < k; c++) ids[c] = (int) i[j * k + c];
      top[b] = new TopLogits(ids, Arrays.copyOfRange(v, j * k, (j + 1) * k));
    }
  }

  /**
   * One forward pass over a batch, as {@link #forward(List, List, boolean[])}.
   *
   * @return per sequence, the logits {@code [vocab_size]} at its last new token
   */
  public float[][] forward(List<KvCache> caches, List<int[]> newTokens) {
    boolean[] all = new boolean[caches.size()];
    Arrays.fill(all, true);
    return forward(caches, newTokens, all).logits();
  }

  /** Like {@link #forward(List, List)}, returning the logits at every new token of each sequence. */
  public List<float[][]> forwardAllPositions(List<KvCache> caches, List<int[]> newTokens) {
    return forward(caches, newTokens, true, null);
  }

  /**
   * The forward pass with every option.
   *
   * @param allPositions logits at every new token, or only at each sequence's last one (the
   *     lm_head over a long prompt is the costliest matmul, so skip it where unused)
   * @param probe receives intermediates; only for a batch of one sequence, null otherwise
   * @return per sequence, {@code [new tokens or 1][vocab_size]} logits
   */
  public List<float[][]> forward(
      List<KvCache> caches, List<int[]> newTokens, boolean allPositions, ForwardProbe probe) {
    return pass(caches, newTokens, allPositions, probe,
        (logits, batch) -> List.of(copyRows(logits, batch, allPositions)));
  }

  /** Reads what a pass returns from its logits {@code [rows, vocab]} before the pass's arrays are freed. */
  private interface Reader<T> {
    T read(NDArray logits, Batch batch);
  }

  private <T> T pass(
      List<KvCache> caches, List<int[]> newTokens, boolean allPositions, ForwardProbe probe, Reader<T> reader) {
    return pass(new Batch(caches, newTokens), allPositions, probe, reader);
  }

  /** One forward pass over a batch already laid out (and so checked). */
  private <T> T pass(Batch batch, boolean allPositions, ForwardProbe probe, Reader<T> reader) {
    Torch.readyThread();
    List<KvCache> caches = batch.caches;
    if (probe != null && batch.size() != 1) {
      throw new IllegalArgumentException("a probe records one sequence; got a batch of " + batch.size());
    }
    for (int b = 0; b < batch.size(); b++) {
      caches.get(b).ensureCapacity(batch.past[b] + batch.count[b]);
    }
    boolean wholeStep = probe == null && decodeStep != null && batch.decodesFrom() == 0;
    // A pass with prefills (and the decodes beside them, if any) in one call as well.
    boolean oneMixedCall = probe == null && decodeStep != null && !allPositions && !wholeStep;
    int decodeFrom = wholeStep ? 0 : oneMixedCall ? batch.decodesFrom() : probe == null ? batch.decodeSuffix() : batch.size();
    int decodeSlots = 0;
    for (int b = decodeFrom; b < batch.size(); b++) decodeSlots = Math.max(decodeSlots, batch.past[b] + 1);
    // The batched decode attention reads every decode cache over the same number of slots.
    for (int b = decodeFrom; b < batch.size(); b++) caches.get(b).ensureCapacity(decodeSlots);
    List<DecoderWeights.Layer> layers = weights.layers();
    try (NDManager step = manager.newSubManager()) {
      NDArray ids = step.create(batch.ids);
      NDArray[] cosSin = stack.rotary(step, batch.positions);
      Decodes decodes = decodeFrom < batch.size() ? decodes(batch, decodeFrom, decodeSlots, step) : null;
      if (wholeStep || oneMixedCall) {
        // The decodes' rows first: bringing them together may move a prefilling sequence's row.
        DecodeStep.Decodes inPool = decodes == null ? null : inPool(batch, decodes, step);
        NDArray logits = wholeStep ? decodeStep.logits(ids, cosSin, poolLayers(), inPool, stack.scaling())
            : wholeMixed(ids, cosSin, batch, inPool, step);
        T out = reader.read(logits, batch);
        for (int b = 0; b < batch.size(); b++) caches.get(b).advance(batch.count[b]);
        return out;
      }
      NDArray x = stack.embed(ids, weights.embedTokens());
      DecoderStack.record(probe, "embeddings", x);
      NDArray[] masks = new NDArray[batch.size()];
      for (int b = 0; b < decodeFrom; b++) {
        masks[b] = stack.causalMask(step, batch.past[b], batch.count[b]); // float32: added after the upcast
      }

      for (int l = 0; l < config.numHiddenLayers(); l++) {
        // Each layer's temporaries live in a scope of their own, so a long prefill holds one layer's at a time.
        try (NDManager scope = step.newSubManager()) {
          x.attach(scope);
          Decodes d = decodes;
          DecoderStack.Attention attention =
              (layer, qk, v, name) -> attention(layer, qk, v, batch, masks, d, scope, probe, name);
          x = stack.layer(l, layers.get(l), x, cosSin, attention, probe);
          x.attach(step);
        }
      }

      NDArray selected = allPositions ? x : x.get(step.create(batch.lastRows()));
      NDArray logits = stack.logits(selected, weights.norm(), weights.lmHead(), probe);
      T out = reader.read(logits, batch);
      // Only a pass that completed makes its slots valid.
      for (int b = 0; b < batch.size(); b++) {
        caches.get(b).advance(batch.count[b]);
      }
      return out;
    }
  }

  /** The decodes from {@code from} to the end of the batch, read over {@code slots} cache slots, with their mask. */
  private Decodes decodes(Batch batch, int from, int slots, NDManager step) {
    int n = batch.size() - from;
    float[] m = new float[n * slots];
    for (int i = 0; i < n; i++) {
      for (int j = batch.past[from + i] + 1; j < slots; j++) m[i * slots + j] = stack.maskValue();
    }
    return new Decodes(from, slots, step.create(m, new Shape(n, 1, 1, slots)));
  }

  /**
   * The single-token decodes at the end of the batch as {@link DecodeStep} reads them, one call for
   * them all: their caches are first brought to neighbouring pool rows where they are not ({@link
   * KvPool#bringTogether}), so the call reads them as a view of the pool, in row order.
   */
  private DecodeStep.Decodes inPool(Batch batch, Decodes d, NDManager step) {
    int n = batch.size() - d.from;
    long[] rows = new long[n];
    long[] positions = new long[n];
    for (int i = 0; i < n; i++) {
      rows[i] = batch.caches.get(d.from + i).row();
      positions[i] = batch.past[d.from + i];
    }
    long low = Long.MAX_VALUE;
    long high = Long.MIN_VALUE;
    for (long r : rows) {
      low = Math.min(low, r);
      high = Math.max(high, r);
    }
    // Distinct rows (each cache owns its own), so n of them spanning n rows are neighbours.
    if (high - low + 1 != n) low = pool.bringTogether(rows);
    long[] byRow = new long[n];
    boolean inOrder = true;
    for (int i = 0; i < n; i++) {
      int at = (int) (rows[i] - low);
      byRow[at] = i;
      inOrder &= at == i;
    }
    NDArray order = null;
    NDArray unorder = null;
    NDArray mask = d.mask;
    if (!inOrder) {
      long[] inverse = new long[n];
      for (int i = 0; i < n; i++) inverse[(int) byRow[i]] = i;
      order = step.create(byRow);
      unorder = step.create(inverse);
      mask = mask.get(order);
    }
    return new DecodeStep.Decodes(mask, step.create(rows), step.create(positions), (int) low, order, unorder, d.slots);
  }

  /** The pool's array of every layer, as a pass reads them. */
  private List<NDArray> poolLayers() {
    List<NDArray> layers = new java.util.ArrayList<>(config.numHiddenLayers());
    for (int l = 0; l < config.numHiddenLayers(); l++) layers.add(pool.layer(l));
    return layers;
  }

  /**
   * A pass of prefills, with the single-token decodes that end the batch if any ({@code decodes}),
   * in one TorchScript call ({@link DecodeStep#mixedLogits}): the logits at each sequence's last row.
   */
  private NDArray wholeMixed(NDArray ids, NDArray[] cosSin, Batch batch, DecodeStep.Decodes decodes, NDManager step) {
    int n = batch.decodesFrom();
    long[] rows = new long[n];
    long[] past = new long[n];
    long[] count = new long[n];
    for (int b = 0; b < n; b++) {
      rows[b] = batch.caches.get(b).row();
      past[b] = batch.past[b];
      count[b] = batch.count[b];
    }
    return decodeStep.mixedLogits(ids, cosSin, poolLayers(), rows, past, count, step.create(batch.lastRows()),
        stack.maskValue(), decodes, stack.scaling());
  }

  /** Per sequence its logit rows as float32 ({@code [count][vocab]} for all positions, else {@code [1][vocab]}). */
  private float[][][] copyRows(NDArray logits, Batch batch, boolean allPositions) {
    float[] flat = toFloats(logits);
    int vocab = config.vocabSize();
    float[][][] out = new float[batch.size()][][];
    int row = 0;
    for (int b = 0; b < batch.size(); b++) {
      int rows = allPositions ? batch.count[b] : 1;
      out[b] = new float[rows][];
      for (int r = 0; r < rows; r++, row++) {
        out[b][r] = Arrays.copyOfRange(flat, row * vocab, (row + 1) * vocab);
      }
    }
    return out;
  }

  private static float[] toFloats(NDArray a) {
    return (a.getDataType() == DataType.FLOAT32 ? a : a.toType(DataType.FLOAT32, false)).toFloatArray();
  }

  /**
   * Causal self-attention per sequence over its cache, then the decodes at the end of the batch
   * batched together (see {@link #decodeAttention}).
   *
   * @param qk {@code [N, H + KV, hd]} q and k heads after RoPE
   * @param v {@code [N, KV, hd]}
   * @return {@code [N, H * hd]}
   */
  private NDArray attention(
      int layer, NDArray qk, NDArray v, Batch batch, NDArray[] masks, Decodes decodes, NDManager scope,
      ForwardProbe probe, String name) {
    NDList outputs = new NDList(batch.size());
    int perSequence = decodes == null ? batch.size() : decodes.from;
    long[] none = new long[0];
    for (int b = 0; b < perSequence; b++) {
      KvCache cache = batch.caches.get(b);
      int n = batch.count[b];
      int total = batch.past[b] + n;
      NDIndex rows = new NDIndex().addSliceDim(batch.offset[b], batch.offset[b] + n);
      NDArray qkRows = qk.get(rows);
      NDArray q = stack.groupQueries(qkRows.get(new NDIndex().addAllDim().addSliceDim(0, heads)), none, n);
      NDArray k = qkRows.get(new NDIndex().addAllDim().addSliceDim(heads, heads + kvHeads)).transpose(1, 0, 2);
      NDArray vRows = v.get(rows).transpose(1, 0, 2);
      DecoderStack.record(probe, name + "q_after_rope", q);
      DecoderStack.record(probe, name + "k_after_rope", k);
      cache.write(layer, k, vRows);
      NDArray keys = cache.keys(layer, total, scope);
      NDArray values = cache.values(layer, total, scope);
      outputs.add(stack.ungroup(stack.attend(q, keys, values, masks[b], probe, name), none, n));
    }
    if (decodes != null) {
      outputs.add(decodeAttention(layer, qk, v, batch, decodes, scope));
    }
    return outputs.size() == 1 ? outputs.get(0) : NDArrays.concat(outputs, 0);
  }

  /**
   * Attention for the single-token decodes at the end of the batch, all in one set of batched
   * matmuls: their caches are read over the same number of slots and the slots past each
   * sequence's own length are masked; one TorchScript call ({@link DecodeAttention}).
   *
   * @return {@code [decodes, H * hd]}
   */
  private NDArray decodeAttention(int layer, NDArray qk, NDArray v, Batch batch, Decodes d, NDManager scope) {
    int n = batch.size() - d.from;
    int first = batch.offset[d.from];
    NDArray rows = qk.get(new NDIndex().addSliceDim(first, first + n)); // [n, H + KV, hd]
    // The new keys and values of every decode as [n, 2, KV, 1, hd].
    NDArray newKv = NDArrays.stack(new NDList(
            rows.get(new NDIndex().addAllDim().addSliceDim(heads, heads + kvHeads)),
            v.get(new NDIndex().addSliceDim(first, first + n))), 1)
        .expandDims(3);
    List<NDArray> caches = new java.util.ArrayList<>(n);
    long[] lengths = new long[n];
    for (int i = 0; i < n; i++) {
      KvCache cache = batch.caches.get(d.from + i);
      caches.add(cache.layer(layer, scope));
      lengths[i] = cache.length();
    }
    long[] lead = {n};
    NDArray q = stack.groupQueries(rows.get(new NDIndex().addAllDim().addSliceDim(0, heads)), lead, 1);
    NDArray out = DecodeAttention.attend(caches, lengths, newKv, q, d.mask, d.slots, stack.scaling());
    return stack.ungroup(out, lead, 1).reshape(n, (long) heads * headDim);
  }

  /** The single-token decodes at the end of a batch: from which sequence, over how many slots. */
  private record Decodes(int from, int slots, NDArray mask) {}

  @Override
  public void close() {
    if (decodeStep != null) decodeStep.close();
    pool.close();
    weights.close();
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
      int from = decodesFrom();
      return size() - from >= 2 ? from : size();
    }

    /**
     * Where the run of single-token decodes (with a cache) that ends the batch starts: 0 when every
     * sequence is one, size() when none is.
     */
    int decodesFrom() {
      int from = size();
      while (from > 0 && count[from - 1] == 1 && past[from - 1] > 0) from--;
      return from;
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
