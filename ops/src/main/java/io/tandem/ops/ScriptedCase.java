package io.tandem.ops;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A scripted case file, {@code {"small": ["tok", ...], "large": [...], "config": {...}, "prompt":
 * ..., "max_tokens": N}} (as in {@code ops/src/test/resources/fixtures/scripted/}), which {@code
 * generate --case} and {@code bench http --scripted} read: each role's list becomes a script file
 * {@code {"tokens": [...]}} that a {@code scripted:} model plays. Its mistakes name the flag and the
 * file as given, never the script files written from it.
 */
final class ScriptedCase {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The shape a case has, as the refusals end. */
  static final String SHAPE = "give a scripted case {\"small\": [\"token\", ...], \"large\": [...], \"config\": {...}}"
      + " as in ops/src/test/resources/fixtures/scripted/";

  private final String option;
  private final Path file;
  final JsonNode root;

  private ScriptedCase(String option, Path file, JsonNode root) {
    this.option = option;
    this.file = file;
    this.root = root;
  }

  /**
   * Reads the case {@code file}, given by {@code option} ({@code "--case"}), and checks that each
   * role has a list of token texts.
   *
   * @throws IllegalArgumentException naming the option and file: missing, a folder, not UTF-8, over
   *     {@link io.tandem.protocol.text.Utf8Files#MAX_BYTES}, not a JSON object, or a role whose
   *     list is missing or holds something other than strings
   */
  static ScriptedCase read(String option, Path file) throws IOException {
    ModelOptions.requireInputFile(option, file, SHAPE);
    JsonNode root;
    try {
      root = JSON.readTree(io.tandem.protocol.text.Utf8Files.read(option, file));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(option + " " + file + ": not JSON (" + Tandem.oneLine(e.getOriginalMessage())
          + "); " + SHAPE);
    }
    if (root == null || !root.isObject())
      throw new IllegalArgumentException(option + " " + file + ": " + (root == null ? "empty" : "not a JSON object")
          + "; " + SHAPE);
    ScriptedCase c = new ScriptedCase(option, file, root);
    for (Role r : Role.values()) c.tokens(r);
    return c;
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
      throw new IllegalArgumentException(option + " " + file + ": " + (tokens == null ? "no '" + role + "' list"
          : "'" + role + "' is " + tokens.getNodeType().name().toLowerCase() + ", not a list") + "; " + SHAPE);
    for (int i = 0; i < tokens.size(); i++)
      if (!tokens.get(i).isTextual())
        throw new IllegalArgumentException(option + " " + file + ": " + role + "[" + i + "] is " + tokens.get(i)
            + ", not a string; each token of a script is its text");
    return tokens;
  }
}
