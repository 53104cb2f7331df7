package io.tandem.inference.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.text.Clipped;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The shape and generation settings of a Hugging Face decoder checkpoint, read from its
 * {@code config.json} and {@code generation_config.json}.
 *
 * @param architecture the single entry of {@code architectures}
 * @param headDim {@code head_dim}, or {@code hidden_size / num_attention_heads} when absent (Qwen2)
 * @param torchDtype {@code dtype} or {@code torch_dtype} as written; informative only, the
 *     per-tensor dtype in the safetensors header is what is loaded
 * @param ropeScaling null when {@code rope_scaling} is null or absent
 * @param maxPositionEmbeddings {@code max_position_embeddings}, or transformers' default when absent
 *     (2048 for LLaMA, 32768 for Qwen2 and Qwen3)
 * @param eosTokenIds from {@code generation_config.json} when present, else from {@code config.json};
 *     an int or a list in the file, always a list here; each below {@code vocab_size}
 * @param slidingWindow {@code sliding_window} when some layer attends through it (transformers'
 *     {@code layer_types}: a layer of a Qwen2 or Qwen3 config with {@code use_sliding_window} whose
 *     index is at least {@code max_window_layers}, unless the config lists the layer types itself),
 *     else null; see {@link #contextLength()}
 */
public record HfConfig(
    Architecture architecture,
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int numHiddenLayers,
    int numAttentionHeads,
    int numKeyValueHeads,
    int headDim,
    double rmsNormEps,
    double ropeTheta,
    RopeScaling ropeScaling,
    int maxPositionEmbeddings,
    boolean tieWordEmbeddings,
    boolean attentionBias,
    String torchDtype,
    Integer bosTokenId,
    List<Integer> eosTokenIds,
    Integer padTokenId,
    Integer slidingWindow) {

  /**
   * What to do about a feature of a checkpoint Tandem does not implement, as such a message ends
   * (tester46b: "hidden_act \"gelu\" is not supported (only silu)" said what, not what to do).
   */
  static final String UNSUPPORTED = "; Tandem runs Qwen2, Qwen3 and Llama-family decoders without it: give such a checkpoint"
      + " (or one whose config.json leaves this out)";


  /** The decoder families this runtime implements. */
  public enum Architecture {
    /** Qwen2 / Qwen2.5 / DeepSeek-R1-Distill-Qwen: q/k/v biases. */
    QWEN2("Qwen2ForCausalLM"),
    /** LLaMA 2/3, DeepSeek-R1-Distill-Llama: no biases, optional llama3 rope scaling. */
    LLAMA("LlamaForCausalLM"),
    /** Qwen3: no biases, per-head RMSNorm on q and k (q_norm, k_norm), explicit head_dim. */
    QWEN3("Qwen3ForCausalLM");

    private final String hfName;

    Architecture(String hfName) {
      this.hfName = hfName;
    }

    public String hfName() {
      return hfName;
    }

    /** Whether q_proj and k_proj outputs pass a per-head RMSNorm before RoPE. */
    public boolean hasQkNorm() {
      return this == QWEN3;
    }
  }

  /**
   * {@code rope_scaling}: {@code rope_type} (or the older key {@code type}) and the llama3 parameters.
   */
  public record RopeScaling(
      String ropeType,
      double factor,
      double lowFreqFactor,
      double highFreqFactor,
      int originalMaxPositionEmbeddings) {}

  /** Strict as Python's json.load, which transformers reads these files with: what follows the value is refused. */
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      // Fractions as written (1e-400 is no 0.0 in a message), read as doubles where used.
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

  /**
   * The longest sequence this runtime serves: {@code max_position_embeddings}, or {@code
   * sliding_window} where that is shorter and some layer slides. Sliding-window attention is not
   * implemented; within the window it attends to every earlier token, as full attention does, so
   * sequences up to the window get exactly transformers' logits.
   */
  public int contextLength() {
    return slidingWindow == null ? maxPositionEmbeddings : Math.min(maxPositionEmbeddings, slidingWindow);
  }

  /** The config key {@link #contextLength()} comes from: {@code sliding_window} or {@code max_position_embeddings}. */
  public String contextLengthKey() {
    return contextLength() < maxPositionEmbeddings ? "sliding_window" : "max_position_embeddings";
  }

  /** Number of query heads sharing one key/value head. */
  public int groupSize() {
    return numAttentionHeads / numKeyValueHeads;
  }

  /**
   * The sampling fields of {@code generation_config.json} that vLLM's {@code --generation-config auto} (its default)
   * applies to requests that leave them out (vLLM's {@code ModelConfig.get_diff_sampling_param}).
   */
  public static final List<String> SAMPLING_FIELDS = List.of("temperature", "top_k", "top_p", "min_p", "repetition_penalty",
      "max_new_tokens");

  /**
   * The sampling defaults {@code modelDir/generation_config.json} recommends: those of {@link #SAMPLING_FIELDS} it gives
   * as numbers, in that order; empty without the file or any of them. Tandem does not apply them (both models of a pair
   * sample alike, with the request's or the server's settings); the server says at start where they differ.
   *
   * @throws CheckpointException for a file that is not a JSON object
   */
  public static java.util.Map<String, Double> recommendedSampling(Path modelDir) {
    Path genFile = modelDir.resolve("generation_config.json");
    java.util.Map<String, Double> out = new java.util.LinkedHashMap<>();
    if (!Files.isRegularFile(genFile)) return out;
    JsonNode g = readJson(genFile);
    for (String field : SAMPLING_FIELDS)
      if (g.path(field).isNumber()) out.put(field, g.get(field).asDouble());
    return out;
  }

  /** Reads {@code config.json} and, when present, {@code generation_config.json} from a checkpoint folder. */
  public static HfConfig load(Path modelDir) {
    Path configFile = modelDir.resolve("config.json");
    if (!Files.isRegularFile(configFile)) {
      throw new CheckpointException("no config.json in " + modelDir + ": not a Hugging Face checkpoint folder");
    }
    JsonNode c = readJson(configFile);
    Path genFile = modelDir.resolve("generation_config.json");
    JsonNode g = Files.isRegularFile(genFile) ? readJson(genFile) : JSON.createObjectNode();
    return parse(c, g, configFile);
  }

  static HfConfig parse(JsonNode c, JsonNode g, Path configFile) {
    JsonNode archs = c.path("architectures");
    if (archs.isMissingNode()) {
      // Without one, transformers' AutoModelForCausalLM goes by model_type: so does Tandem, for the families it runs.
      Architecture byType = switch (c.path("model_type").asText("")) {
        case "qwen2" -> Architecture.QWEN2;
        case "llama" -> Architecture.LLAMA;
        case "qwen3" -> Architecture.QWEN3;
        default -> null;
      };
      if (byType == null && c.hasNonNull("model_type"))
        throw new CheckpointException(configFile + ": unsupported model_type " + Clipped.json(
            c.get("model_type")) + " (no \"architectures\"; supported: qwen2, llama, qwen3, or Qwen2ForCausalLM,"
            + " LlamaForCausalLM, Qwen3ForCausalLM)");
      if (byType == null)
        throw new CheckpointException(configFile + ": no \"architectures\"; a Hugging Face config names its model class "
            + "there, e.g. \"architectures\": [\"Qwen2ForCausalLM\"] (or its \"model_type\": qwen2, llama or qwen3)");
      archs = JSON.createArrayNode().add(byType.hfName());
    }
    if (!archs.isArray() || archs.size() != 1) {
      throw new CheckpointException(configFile + ": expected one entry in \"architectures\", found " + Clipped.json(archs));
    }
    String archName = archs.get(0).asText();
    Architecture architecture = null;
    for (Architecture a : Architecture.values()) {
      if (a.hfName().equals(archName)) {
        architecture = a;
      }
    }
    if (architecture == null) {
      throw new CheckpointException(
          configFile + ": unsupported architecture \"" + archName
              + "\" (supported: Qwen2ForCausalLM, LlamaForCausalLM, Qwen3ForCausalLM)");
    }
    int hidden = requireInt(c, "hidden_size", configFile);
    int heads = requireInt(c, "num_attention_heads", configFile);
    // Qwen2 configs have no head_dim; HF derives it.
    int headDim = optionalInt(c, "head_dim", hidden / heads, configFile);
    int kvHeads = optionalInt(c, "num_key_value_heads", heads, configFile);
    requireType(c, "tie_word_embeddings", JsonNode::isBoolean, "true or false", configFile);
    requireType(c, "rope_scaling", n -> n.isObject(), "an object such as {\"rope_type\": \"llama3\", ...}", configFile);
    if (heads % kvHeads != 0) {
      throw new CheckpointException(
          configFile + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
    }
    boolean bias =
        switch (architecture) {
          case QWEN2 -> true;
          case QWEN3 -> c.path("attention_bias").asBoolean(false);
          case LLAMA -> c.path("attention_bias").asBoolean(false);
        };
    if (c.path("mlp_bias").asBoolean(false)) {
      throw new CheckpointException(configFile + ": mlp_bias true is not supported" + UNSUPPORTED);
    }
    String act = c.path("hidden_act").asText("silu");
    if (!act.equals("silu")) {
      throw new CheckpointException(configFile + ": hidden_act \"" + act + "\" is not supported (only silu)" + UNSUPPORTED);
    }
    String dtype =
        c.hasNonNull("dtype") ? c.get("dtype").asText() : c.path("torch_dtype").asText("float32");

    int maxPositions = optionalInt(c, "max_position_embeddings", architecture == Architecture.LLAMA ? 2048 : 32768, configFile);

    // transformers 5 writes rope_theta and the scaling together as rope_parameters; 4.x at the top
    // level. As transformers 5 reads them: a non-empty rope_scaling first, else rope_parameters; the
    // theta from rope_parameters, else the top level.
    requireType(c, "rope_parameters", JsonNode::isObject, "an object such as {\"rope_type\": \"default\", \"rope_theta\": 1000000.0}", configFile);
    JsonNode parameters = c.path("rope_parameters");
    JsonNode thetaFrom = parameters.hasNonNull("rope_theta") ? parameters : c;
    boolean legacy = c.path("rope_scaling").isObject() && !c.get("rope_scaling").isEmpty();
    String scalingKey = legacy ? "rope_scaling" : "rope_parameters";
    JsonNode rs = legacy ? c.get("rope_scaling") : parameters;
    RopeScaling scaling = null;
    if (rs.isObject() && !rs.isEmpty()) {
      String type = rs.hasNonNull("rope_type") ? rs.get("rope_type").asText() : rs.path("type").asText("default");
      if (!type.equals("llama3") && !type.equals("default")) {
        throw new CheckpointException(configFile + ": " + scalingKey + " type \"" + type + "\" is not supported (default or llama3)"
            + UNSUPPORTED);
      }
      if (type.equals("llama3")) {
        for (String key : List.of("factor", "low_freq_factor", "high_freq_factor")) {
          if (!rs.hasNonNull(key)) {
            throw new CheckpointException(configFile + ": " + scalingKey + " of type llama3 needs \"" + key + "\"");
          }
        }
        String in = scalingKey + ".";
        scaling = new RopeScaling(
            type,
            optionalPositive(rs, in, "factor", 1.0, configFile),
            optionalPositive(rs, in, "low_freq_factor", 1.0, configFile),
            optionalPositive(rs, in, "high_freq_factor", 4.0, configFile),
            // transformers 5 takes max_position_embeddings where this is absent
            optionalInt(rs, in, "original_max_position_embeddings", maxPositions, configFile));
      }
    }

    // generation_config.json's eos ids win where it has any; both files' are checked (null: none).
    List<Integer> configEos = eosIds(c.path("eos_token_id"), configFile);
    List<Integer> eos = g.hasNonNull("eos_token_id")
        ? eosIds(g.get("eos_token_id"), configFile.resolveSibling("generation_config.json"))
        : configEos;
    int vocab = requireInt(c, "vocab_size", configFile);
    for (int id : eos) {
      if (id >= vocab) {
        throw new CheckpointException(configFile.resolveSibling(g.hasNonNull("eos_token_id") ? "generation_config.json" : "config.json")
            + ": \"eos_token_id\" " + id + " is not below config.json's vocab_size " + vocab
            + ": one of the two is wrong (an eos id the model cannot produce would make every answer run to its token limit)");
      }
    }
    Integer bos = intOrNull(g.hasNonNull("bos_token_id") ? g.get("bos_token_id") : c.get("bos_token_id"));
    Integer pad = intOrNull(g.hasNonNull("pad_token_id") ? g.get("pad_token_id") : c.get("pad_token_id"));

    return new HfConfig(
        architecture,
        vocab,
        hidden,
        requireInt(c, "intermediate_size", configFile),
        requireInt(c, "num_hidden_layers", configFile),
        heads,
        kvHeads,
        headDim,
        optionalPositive(c, "rms_norm_eps", 1e-6, configFile),
        optionalPositive(thetaFrom, thetaFrom == parameters ? "rope_parameters." : "", "rope_theta", 10000.0, configFile),
        scaling,
        maxPositions,
        c.path("tie_word_embeddings").asBoolean(false),
        bias,
        dtype,
        bos,
        List.copyOf(eos),
        pad,
        slidingWindow(c, architecture, requireInt(c, "num_hidden_layers", configFile), configFile));
  }

  /**
   * The window of a config whose layers slide, as transformers' Qwen2Config and Qwen3Config derive
   * {@code layer_types}: none without {@code use_sliding_window}; otherwise the layers listed as
   * {@code "sliding_attention"} in {@code layer_types}, or, without that list, those from {@code
   * max_window_layers} (default 28) on. LLaMA has no sliding window.
   */
  private static Integer slidingWindow(JsonNode c, Architecture architecture, int layers, Path file) {
    if (architecture == Architecture.LLAMA || !c.path("use_sliding_window").asBoolean(false)) return null;
    JsonNode types = c.path("layer_types");
    boolean slides = false;
    if (types.isArray()) {
      for (JsonNode t : types) slides |= t.asText().equals("sliding_attention");
    } else {
      JsonNode from = c.path("max_window_layers");
      if (!from.isMissingNode() && !from.isNull() && !(from.isIntegralNumber() && from.canConvertToInt() && from.asInt() >= 0)) {
        throw new CheckpointException(file + ": \"max_window_layers\" must be a whole number from 0, found " + from);
      }
      slides = (from.isIntegralNumber() ? from.asInt() : 28) < layers;
    }
    if (!slides || !c.hasNonNull("sliding_window")) return null;
    return optionalInt(c, "sliding_window", 0, file);
  }

  /** A config's {@code eos_token_id}: one id, a list of them, or none (absent or null). */
  private static List<Integer> eosIds(JsonNode node, Path file) {
    List<Integer> ids = new ArrayList<>();
    if (node.isMissingNode() || node.isNull()) return ids;
    for (JsonNode n : node.isArray() ? node : List.of(node)) {
      if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 0) {
        throw new CheckpointException(file + ": \"eos_token_id\" must be a token id (a whole number from 0) or a list of them, found " + node);
      }
      ids.add(n.asInt());
    }
    return ids;
  }

  private static Integer intOrNull(JsonNode n) {
    if (n == null || n.isNull()) {
      return null;
    }
    // Some configs write a list for bos/pad too; the first entry is the one used for padding.
    return n.isArray() ? (n.isEmpty() ? null : n.get(0).asInt()) : n.asInt();
  }

  private static int requireInt(JsonNode c, String key, Path file) {
    if (!c.hasNonNull(key)) throw new CheckpointException(file + ": missing \"" + key + "\" (a whole number from 1)");
    return optionalInt(c, key, 0, file);
  }

  /** A whole number from 1 (a size or a count), or {@code absent} where the key is missing or null. */
  private static int optionalInt(JsonNode c, String key, int absent, Path file) {
    return optionalInt(c, "", key, absent, file);
  }

  /** As above, for a member of the object {@code parent} names ({@code "rope_scaling."}; {@code ""} at the top). */
  private static int optionalInt(JsonNode c, String parent, String key, int absent, Path file) {
    JsonNode n = c.get(key);
    if (n == null || n.isNull()) return absent;
    if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 1) {
      throw new CheckpointException(file + ": \"" + parent + key + "\" must be a whole number from 1, found " + Clipped.json(n));
    }
    return n.asInt();
  }

  /** A number above 0, or {@code absent} where the key is missing or null. */
  private static double optionalPositive(JsonNode c, String key, double absent, Path file) {
    return optionalPositive(c, "", key, absent, file);
  }

  /** As above, for a member of the object {@code parent} names ({@code "rope_scaling."}; {@code ""} at the top). */
  private static double optionalPositive(JsonNode c, String parent, String key, double absent, Path file) {
    JsonNode n = c.get(key);
    if (n == null || n.isNull()) return absent;
    if (!n.isNumber() || !(n.asDouble() > 0) && !(n.asDouble() == 0 && n.isBigDecimal() && n.decimalValue().signum() > 0)) {
      throw new CheckpointException(file + ": \"" + parent + key + "\" must be a number above 0, found " + Clipped.json(n));
    }
    // Python reads a huge integer exactly, and 1e-400 as 0.0: neither is a 64-bit float the model can compute with.
    if (!Double.isFinite(n.asDouble()) || n.asDouble() == 0)
      throw new CheckpointException(file + ": \"" + parent + key + "\" is " + Clipped.json(n) + ", " + (n.asDouble() == 0
          ? "too small for a 64-bit float (it reads as 0)" : "beyond a 64-bit float's range (about 1.8e308)")
          + "; write a number the model can compute with");
    return n.asDouble();
  }

  /** Where {@code key} is present and not null, it must pass {@code ok}: else one line naming what it should be. */
  private static void requireType(JsonNode c, String key, java.util.function.Predicate<JsonNode> ok, String what, Path file) {
    JsonNode n = c.get(key);
    if (n != null && !n.isNull() && !ok.test(n)) {
      throw new CheckpointException(file + ": \"" + key + "\" must be " + what + ", found " + Clipped.json(n));
    }
  }

  private static JsonNode readJson(Path file) {
    try {
      return io.tandem.inference.text.JsonFault.readObject(JSON, file, "{...}");
    } catch (io.tandem.inference.text.JsonFault.NotJson e) {
      throw new CheckpointException(e.getMessage(), e);
    } catch (IOException e) {
      throw new CheckpointException(file + ": cannot read JSON (" + CheckpointException.why(e) + ")", e);
    }
  }
}
