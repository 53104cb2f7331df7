package io.tandem.protocol.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.tandem.protocol.JsonInteger;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Reads a speculative config written with the paper's keys: its YAML files as its repository
 * writes them ({@code TRIGGER_TOKENS}, {@code TARGET_VALIDATION_KEYWORDS: {verify, negative,
 * positive}}, {@code help_think_word}, ...), the {@code config} object of a JSON case file, and
 * per-request override maps. Missing keys keep the base values (the paper's defaults for files).
 */
public final class PaperConfigLoader {
  /** Floats read exactly, so that one nearer to 0 than a double ({@code 1e-400}) is not taken for 0. */
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** A case file's numbers read as written, as {@link #YAML} reads them ({@code 1e-400} is not 0). */
  private static final ObjectMapper CASE_JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

  /** Keys of the paper's files that choose models and GPUs; Tandem sets those elsewhere. */
  private static final Set<String> MODEL_KEYS =
      // In this order wherever they are listed (a Set.of listed them in another order at each run: tester46e).
      java.util.Collections.unmodifiableSet(new LinkedHashSet<>(List.of(
          "mode", "target_model_name", "speculative_model_name", "target_model_gpu",
          "speculative_model_gpu")));

  private PaperConfigLoader() {}

  /** Loads a YAML file; errors and warnings name the file. */
  public static LoadedConfig loadYaml(Path file) {
    String source = file.getFileName().toString();
    try {
      return parseYaml(io.tandem.protocol.text.Utf8Files.read("speculative config", file), source);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read speculative config " + file, e);
    }
  }

  /** Parses YAML text; {@code source} names it in errors (a file name). */
  public static LoadedConfig parseYaml(String yaml, String source) {
    JsonNode root;
    try {
      refuseAliases(yaml, source);
      root = YAML.readTree(yaml);
    } catch (com.fasterxml.jackson.core.JsonParseException e) {
      InvalidConfigException repeated = repeatedKey(e, source);
      if (repeated != null) throw repeated;
      InvalidConfigException notFinite = notFinite(e, source);
      throw notFinite != null ? notFinite : new InvalidConfigException(source, null, yamlError(e));
    } catch (IOException e) {
      throw new InvalidConfigException(source, null, yamlError(e));
    }
    // "null" or "~" alone is a document, whose value is no mapping (PyYAML's safe_load gives None, which the paper's code cannot read).
    if (root != null && root.isNull())
      throw new InvalidConfigException(source, null, "the document holds no mapping of keys to values (it reads as null);"
          + " give the keys to set, or no config for the paper's defaults");
    return fromTree(root, source);
  }

  /**
   * A key given twice in one mapping, which YAML does not allow (YAML 1.2, section 3.2.1.1: the keys
   * of a mapping are unique) and PyYAML, the paper's reader, would take silently, keeping the last:
   * {@code max_target_tokens: 20} then {@code max_target_tokens: 40} would run with 40 without a
   * word. Null for any other fault.
   */
  private static InvalidConfigException repeatedKey(com.fasterxml.jackson.core.JsonParseException e, String source) {
    String original = e.getOriginalMessage() == null ? "" : e.getOriginalMessage();
    if (!original.startsWith("Duplicate field '")) return null;
    String key = original.substring("Duplicate field '".length(), Math.max("Duplicate field '".length(), original.lastIndexOf('\'')));
    String line = e.getLocation() == null || e.getLocation().getLineNr() < 1 ? "" : "line " + e.getLocation().getLineNr() + ": ";
    return new InvalidConfigException(source, null, line + "the key " + io.tandem.protocol.text.Clipped.of(key)
        + " is given twice in one mapping; give it once (which of the two values is meant cannot be told)");
  }

  /**
   * Refuses YAML's aliases ({@code *name}, and so merge keys {@code <<: *name}): Jackson's YAML
   * reader gives an alias as the text of its name, not as the value it stands for, so that {@code
   * max_target_tokens: *m} would be read as the string {@code "m"} and a list alias as text. Refuses
   * a second document ({@code ---} after the first) too: Jackson reads the first alone, and the
   * rest would be dropped without a word, where PyYAML's {@code safe_load}, the paper's reader,
   * raises "expected a single document in the stream".
   */
  private static void refuseAliases(String yaml, String source) throws IOException {
    try (com.fasterxml.jackson.dataformat.yaml.YAMLParser p =
        (com.fasterxml.jackson.dataformat.yaml.YAMLParser) YAML.getFactory().createParser(yaml)) {
      int depth = 0;
      boolean documentRead = false;
      for (com.fasterxml.jackson.core.JsonToken t; (t = p.nextToken()) != null; ) {
        if (depth == 0 && documentRead)
          throw new InvalidConfigException(source, null, "line " + p.getTokenLocation().getLineNr() + ": a second YAML"
              + " document (after a '---'); a speculative config is one document: remove the '---' and merge the two, or"
              + " keep one");
        if (t.isStructStart()) depth++;
        else if (t.isStructEnd()) depth--;
        if (depth == 0) documentRead = true;
        if (p.isCurrentAlias())
          throw new InvalidConfigException(source, null, "line " + p.getTokenLocation().getLineNr() + ": the alias *"
              + io.tandem.protocol.text.Clipped.of(p.getText()) + " is not supported (Tandem reads YAML without anchors"
              + " and aliases); write the value out where the alias stands");
      }
    }
  }

  /** YAML 1.1's infinities and NaN ({@code .inf}, {@code -.Inf}, {@code .nan}, ...), as SnakeYAML resolves floats. */
  private static final java.util.regex.Pattern NOT_FINITE = java.util.regex.Pattern.compile("[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");

  /**
   * A value YAML writes as infinity or NaN (valid YAML, which Jackson's YAML reader 2.13 cannot turn
   * into a number) refused as the key's bad value, as a number beyond a double's range is; null
   * for any other parse error.
   */
  private static InvalidConfigException notFinite(com.fasterxml.jackson.core.JsonParseException e, String source) {
    String text;
    String key;
    try {
      text = e.getProcessor() == null ? null : e.getProcessor().getText();
      key = e.getProcessor() == null ? null : e.getProcessor().getParsingContext().getCurrentName();
    } catch (IOException unreadable) {
      return null;
    }
    if (text == null || key == null || !NOT_FINITE.matcher(text).matches()) return null;
    return InvalidConfigException.badValue(source, key, "must be a finite number, got " + text + " (YAML's "
        + (text.toLowerCase(java.util.Locale.ROOT).contains("nan") ? "NaN" : "infinity") + ")"
        + (key.equals(ConfigKey.TIME_OUT.paper) ? "; for no time-out give 0" : ""));
  }

  /** A YAML syntax error in one line: where (SnakeYAML's problem mark) and what; its own text spans several. */
  private static String yamlError(IOException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof org.yaml.snakeyaml.error.MarkedYAMLException m && m.getProblemMark() != null) {
        // YAML 1.1 reads no key longer than 1,024 characters unless it is written after "? ".
        String longKey = m.getProblemMark().getColumn() > 1024 ? "; a key longer than 1,024 characters is none in YAML"
            // SnakeYAML's words for a line that leaves its block, or enters none: its indent.
            : String.valueOf(m.getProblem()).contains("expected <block end>") || String.valueOf(m.getProblem()).contains(
                "mapping values are not allowed here") ? "; is a line indented more or less than the keys beside it?" : "";
        return "line " + (m.getProblemMark().getLine() + 1) + ", column " + (m.getProblemMark().getColumn() + 1)
            + ": not valid YAML: " + m.getProblem() + (m.getContext() == null ? "" : " (" + m.getContext() + ")") + longKey;
      }
    }
    return "not valid YAML: " + e.getMessage().lines().findFirst().orElse("");
  }

  /** Loads the {@code config} object of a JSON case file (two scripts and a config). */
  public static LoadedConfig loadJsonCase(Path caseFile) {
    String source = caseFile.getFileName().toString();
    JsonNode root;
    try {
      root = CASE_JSON.readTree(io.tandem.protocol.text.Utf8Files.read("case file", caseFile));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read case file " + caseFile, e);
    }
    JsonNode config = root == null ? null : root.get("config");
    if (config == null) {
      throw new InvalidConfigException(source, "config", "has no 'config' object");
    }
    return fromTree(config, source);
  }

  /** Reads a parsed YAML or JSON object over the paper's defaults. */
  public static LoadedConfig fromTree(JsonNode root, String source) {
    List<String> warnings = new ArrayList<>();
    SpeculativeConfig.Builder b = SpeculativeConfig.paperDefaults().toBuilder();
    if (root != null && !root.isNull() && !root.isMissingNode()) {
      apply(root, b, source, warnings);
    }
    return new LoadedConfig(b.build(source, UnaryOperator.identity()), warnings);
  }

  /**
   * {@code base} with the given overrides (the paper's keys, e.g. {@code max_target_tokens}).
   * Model and GPU keys are refused: a request cannot choose the server's models.
   */
  public static SpeculativeConfig applyOverrides(
      SpeculativeConfig base, Map<String, ?> overrides, String source) {
    SpeculativeConfig.Builder b = base.toBuilder();
    if (overrides != null && !overrides.isEmpty()) {
      for (String key : overrides.keySet()) {
        if (MODEL_KEYS.contains(key)) {
          throw new InvalidConfigException(
              source, key, "'" + key + "' selects a model; the server's models cannot be changed per request");
        }
      }
      apply(JSON.valueToTree(overrides), b, source, new ArrayList<>());
    }
    return b.build(source, UnaryOperator.identity());
  }

  /** Keys of a vLLM server's --config YAML (its CLI flags) that a newcomer may bring to Tandem's --config. */
  private static final Set<String> SERVER_KEYS = Set.of("port", "host", "model", "served-model-name", "api-key",
      "max-model-len", "dtype", "tensor-parallel-size", "gpu-memory-utilization", "max-num-seqs", "device", "roles",
      "max-num-batched-tokens", "enable-prefix-caching", "kv-cache-dtype", "tokenizer", "seed", "trust-remote-code",
      "max-tokens", "temperature", "top-p", "top-k");

  private static void apply(
      JsonNode root, SpeculativeConfig.Builder b, String source, List<String> warnings) {
    if (!root.isObject()) {
      throw new InvalidConfigException(
          source, null, "a speculative config must be a mapping of keys to values, got " + io.tandem.protocol.JsonInteger.show(root)
              + (root.isTextual() && root.textValue().contains("=") ? " (this reads as HOCON: --config takes the paper's YAML;"
                  + " give server settings with -Dconfig.file=FILE in TANDEM_JAVA_OPTS)" : ""));
    }
    Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String key = field.getKey();
      JsonNode v = field.getValue();
      if (key.equals("mode") && !(v.isTextual() && (v.asText().equals("hf") || v.asText().equals("vllm")))) {
        // The paper's mode is its backend (hf or vllm); small, large or speculative is Tandem's mode, set elsewhere.
        throw new InvalidConfigException(source, key, "mode must be the paper's backend, hf or vllm (which Tandem does not"
            + " use), got " + JsonInteger.show(v) + "; Tandem's own mode (small, large or speculative) is generate's --mode,"
            + " eval's --modes, a request's tandem.mode or tandem.http.default-mode, not a config key");
      }
      if (MODEL_KEYS.contains(key)) {
        warnings.add(
            source + ": '" + key + "' is not used here (Tandem's models and devices are set in"
                + " the server configuration)");
        continue;
      }
      if (key.equals(ConfigKey.KEYWORDS)) {
        keywords(source, v, b);
        continue;
      }
      ConfigKey k = ConfigKey.byPaper(key);
      if (k == null) {
        Set<String> known = new LinkedHashSet<>(ConfigKey.paperTopLevel());
        known.addAll(MODEL_KEYS);
        // A server's setting, as vLLM's --config YAML holds them (port, model, ...), or Tandem's own (tandem.http...).
        boolean server = key.equals("tandem") || key.startsWith("tandem.")
            || SERVER_KEYS.contains(key.toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        throw new InvalidConfigException(source, key, KeySuggestions.unknownKey(key, known) + (server ? "; '" + key + "' is a"
            + " server setting, not the paper's: --config takes the speculative config alone; give server settings with"
            + " -Dconfig.file=FILE in TANDEM_JAVA_OPTS, or the command's flags" : ""));
      }
      k.set(b, value(source, k, v));
    }
  }

  /** The value of {@code key} in a parsed file or request, as the key's type wants it. */
  private static Object value(String source, ConfigKey key, JsonNode v) {
    String name = key.paper;
    return switch (key.type) {
      case STRINGS -> strings(source, name, v);
      case STRING -> string(source, name, v);
      case OPTIONAL_STRING -> v.isNull() ? null : string(source, name, v);
      case BOOLEAN -> bool(source, name, v);
      case INTEGER -> integer(source, name, v);
      // The reference treats a missing or null time_out as "none".
      case SECONDS -> v.isNull() ? -1.0 : number(source, name, v);
    };
  }

  private static void keywords(String source, JsonNode v, SpeculativeConfig.Builder b) {
    String key = ConfigKey.KEYWORDS;
    if (!v.isObject()) {
      throw new InvalidConfigException(
          source, key, key + " must be a mapping with verify, negative and positive lists, got " + io.tandem.protocol.JsonInteger.show(v));
    }
    Iterator<Map.Entry<String, JsonNode>> groups = v.fields();
    while (groups.hasNext()) {
      Map.Entry<String, JsonNode> group = groups.next();
      String name = key + "." + group.getKey();
      ConfigKey k = ConfigKey.byPaper(name);
      if (k == null) {
        throw new InvalidConfigException(source, name,
            KeySuggestions.unknownKey(name, ConfigKey.keywordGroups().stream().map(g -> key + "." + g).toList()));
      }
      k.set(b, value(source, k, group.getValue()));
    }
  }

  private static List<String> strings(String source, String key, JsonNode v) {
    if (!v.isArray()) {
      throw new InvalidConfigException(source, key, key + " must be a list of strings, got " + JsonInteger.show(v));
    }
    List<String> out = new ArrayList<>();
    for (JsonNode item : v) {
      if (!item.isTextual()) {
        throw new InvalidConfigException(
            source, key, key + " must be a list of strings, but contains " + JsonInteger.show(item));
      }
      out.add(item.textValue());
    }
    return out;
  }

  private static String string(String source, String key, JsonNode v) {
    if (!v.isTextual()) {
      throw new InvalidConfigException(source, key, key + " must be a string, got " + JsonInteger.show(v));
    }
    return v.textValue();
  }

  private static boolean bool(String source, String key, JsonNode v) {
    if (!v.isBoolean()) {
      throw new InvalidConfigException(source, key, key + " must be true or false, got " + JsonInteger.show(v));
    }
    return v.booleanValue();
  }

  /**
   * An integer by {@link JsonInteger}'s rule, as a request's integers are read: 30 or 30.0, not 30.5;
   * a number beyond a double's range ({@code 1e400}) is out of an int's range, not a fraction.
   */
  private static int integer(String source, String key, JsonNode v) {
    Integer x = JsonInteger.asInt(v);
    if (x == null) {
      boolean whole = JsonInteger.is(v) || v.isNumber() && !Double.isFinite(v.doubleValue());
      // Too large, it is said as such: the lower end of an int's range is no value any count here takes (tester53c:
      // "from -2147483648 to 2147483647" for max_target_tokens, which must be >= 1).
      boolean tooLarge = whole && (v.isNumber() ? v.doubleValue() > 0 : !v.asText().strip().startsWith("-"));
      throw new InvalidConfigException(source, key, key + (tooLarge ? " must be an integer of at most " + Integer.MAX_VALUE
          : whole ? " must be an integer from " + Integer.MIN_VALUE + " to " + Integer.MAX_VALUE : " must be an integer")
          + ", got " + JsonInteger.show(v));
    }
    return x;
  }

  /**
   * A number of seconds; one beyond a double's range ({@code 1e400}) is none that a deadline can be,
   * and one nearer to 0 than a double ({@code 1e-400}, read exactly from YAML) would be none at all.
   */
  private static double number(String source, String key, JsonNode v) {
    if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
      throw new InvalidConfigException(
          source, key, key + " must be a number of seconds (<= 0 for none), got " + JsonInteger.show(v));
    }
    if (v.doubleValue() == 0 && v.isBigDecimal() && v.decimalValue().signum() != 0)
      throw new InvalidConfigException(source, key, key + " must be a number of seconds (<= 0 for none), got "
          + JsonInteger.show(v) + ", too close to 0 for a 64-bit float; write 0 for none");
    return v.doubleValue();
  }
}
