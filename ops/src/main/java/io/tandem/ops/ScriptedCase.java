package io.tandem.ops;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A scripted case file, {@code {"small": ["tok", ...], "large": [...], "config": {...}, "prompt":
 * "...", "max_tokens": N}} (as in {@code ops/src/test/resources/fixtures/scripted/}), which {@code
 * generate --case} and {@code bench http --scripted} read: each role's list becomes a script file
 * {@code {"tokens": [...]}} that a {@code scripted:} model plays. Read strictly (a key given twice or
 * text after the object is a mistake, not the last or first word); its mistakes name the flag and
 * the file as given, never the script files written from it, and show a value clipped.
 */
final class ScriptedCase {
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      // Numbers as written, as the config loader reads YAML: 1e-400 is not 0.
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

  /** The shape a case has, as the refusals end. */
  static final String SHAPE = "give a scripted case {\"small\": [\"token\", ...], \"large\": [...], \"config\": {...}}"
      + " as in ops/src/test/resources/fixtures/scripted/";

  /** The fields a case may have. */
  static final java.util.List<String> FIELDS = java.util.List.of("small", "large", "config", "prompt", "max_tokens");

  private final String option;
  private final Path file;
  final JsonNode root;

  private ScriptedCase(String option, Path file, JsonNode root) {
    this.option = option;
    this.file = file;
    this.root = root;
  }

  /**
   * Reads the case {@code file}, given by {@code option} ({@code "--case"}), and checks its shape:
   * each role a list of token texts, {@code prompt} (optional) a string, {@code max_tokens}
   * (optional) a whole number of at least 1.
   *
   * @throws IllegalArgumentException naming the option and file: missing, a folder, not UTF-8, over
   *     {@link io.tandem.protocol.text.Utf8Files#MAX_BYTES}, not one JSON object; a {@link
   *     UsageError} (exit status 2, as for a config key) for a field not of its shape, or one not
   *     among {@link #FIELDS}
   */
  static ScriptedCase read(String option, Path file) throws IOException {
    ModelOptions.requireInputFile(option, file, SHAPE);
    JsonNode root;
    String text = io.tandem.protocol.text.Utf8Files.read(option, file);
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(option + " " + file + ": not JSON" + io.tandem.protocol.text.JsonSyntax.of(e, text, "file")
          + "; " + SHAPE);
    }
    if (root == null || !root.isObject())
      throw new IllegalArgumentException(option + " " + file + ": " + (root == null ? "empty" : "not a JSON object")
          + "; " + SHAPE);
    ScriptedCase c = new ScriptedCase(option, file, root);
    // A misspelt field ("promt") would be dropped without a word.
    for (var names = root.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      // A key's mistake, as one in its config is (exit status 2).
      if (!FIELDS.contains(name))
        throw new UsageError(option + " " + file + ": unknown key '" + io.tandem.protocol.text.Clipped.of(name) + "' (a case has "
            + String.join(", ", FIELDS) + ")");
    }
    for (Role r : Role.values()) c.tokens(r);
    JsonNode config = root.get("config");
    if (config != null && !config.isObject())
      throw c.refusal("\"config\" is " + show(config) + "; give the speculative config as a mapping of keys to values, like"
          + " {\"max_target_tokens\": 20}, or leave it out");
    JsonNode prompt = root.get("prompt");
    if (prompt != null && !prompt.isTextual())
      throw c.refusal("\"prompt\" is " + show(prompt) + "; give the prompt as a string, or leave it out");
    JsonNode maxTokens = root.get("max_tokens");
    if (maxTokens != null && !(maxTokens.isIntegralNumber() && maxTokens.canConvertToInt() && maxTokens.asInt() >= 1))
      throw c.refusal("\"max_tokens\" is " + show(maxTokens) + "; give a whole number of at least 1, or leave it out");
    return c;
  }

  /** The case's {@code prompt}, or null when it has none. */
  String prompt() {
    return root.has("prompt") ? root.get("prompt").asText() : null;
  }

  /** The case's {@code max_tokens}, or null when it has none. */
  Integer maxTokens() {
    return root.has("max_tokens") ? root.get("max_tokens").asInt() : null;
  }

  /** Writes {@code role}'s script into {@code dir} and returns the model for it, {@code scripted:PATH}. */
  String writeScript(Role role, Path dir) throws IOException {
    Path script = dir.resolve(role + ".json");
    Files.writeString(script, JSON.writeValueAsString(JSON.createObjectNode().set("tokens", tokens(role))));
    return "scripted:" + script;
  }

  private JsonNode tokens(Role role) {
    JsonNode tokens = root.get(role.name());
    if (tokens == null || !tokens.isArray())
      throw refusal((tokens == null ? "no '" + role + "' list" : "'" + role + "' is " + show(tokens) + ", not a list") + "; " + SHAPE);
    for (int i = 0; i < tokens.size(); i++) {
      if (!tokens.get(i).isTextual())
        throw refusal(role + "[" + i + "] is " + show(tokens.get(i)) + ", not a string; each token of a script is its text");
      // Said here, naming the case, rather than by the scripted model once the workers start (tester53c: exit 1, naming
      // the script file written from it).
      String text = tokens.get(i).textValue();
      if (text.isEmpty()) throw refusal(role + "[" + i + "] is empty; each token of a script is its text, of one character or more");
      if (io.tandem.protocol.text.LoneSurrogates.in(text))
        throw refusal(role + "[" + i + "] holds a lone UTF-16 surrogate, which no text can hold (an output's UTF-8 could not be"
            + " written); give a character whole in one token");
    }
    return tokens;
  }

  /** A field not of its shape: a value that cannot be used, as a config key's is (exit status 2). */
  private UsageError refusal(String problem) {
    return new UsageError(option + " " + file + ": " + problem);
  }

  /** A value as a refusal shows it ({@link io.tandem.protocol.JsonInteger#show}: clipped, a deep list too). */
  private static String show(JsonNode value) {
    return io.tandem.protocol.JsonInteger.show(value);
  }
}
