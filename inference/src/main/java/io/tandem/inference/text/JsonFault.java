package io.tandem.inference.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.text.JsonSyntax;
import io.tandem.protocol.text.Utf8Files;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * A checkpoint's JSON file read as transformers reads it ({@code json.load(open(file, encoding=
 * "utf-8"))}): UTF-8 text (a leading byte order mark dropped, as Python's {@code utf-8-sig} does,
 * the rule of {@link Utf8Files} for every text file Tandem reads), one JSON value and nothing after
 * it (Python's "Extra data"); what does not parse is said in one line, in JSON's own terms ({@link
 * JsonSyntax}), not in Jackson's, which names its parser features ("enable
 * JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS") and may quote kilobytes of the file. A fraction
 * or exponent beyond a double's range ({@code 1e400}) is refused where Python would read it as
 * infinity and a model would compute garbage with it.
 */
public final class JsonFault {
  private JsonFault() {}

  /** A checkpoint file that is not UTF-8, not JSON or not the value it must be; its message names the file and the fault. */
  public static final class NotJson extends IllegalArgumentException {
    NotJson(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * The JSON value of {@code file}, read with {@code mapper}'s settings, trailing tokens refused
   * whatever they say.
   *
   * @return the value; a {@code MissingNode} for a file of whitespace alone (or nothing)
   * @throws NotJson {@code FILE: not valid JSON (line L, column C): what}, {@code checkpoint file
   *     FILE: not UTF-8 text ...; save it as UTF-8}, or {@code FILE: "rope_theta" is a number out of
   *     range ...}
   * @throws IOException when the file cannot be read at all
   */
  public static JsonNode read(ObjectMapper mapper, Path file) throws IOException {
    return parse(mapper, file, text(file));
  }

  /** The text of {@code file}, as {@link Utf8Files} reads it (a byte order mark dropped). */
  private static String text(Path file) throws IOException {
    try {
      return Utf8Files.read("checkpoint file", file);
    } catch (IllegalArgumentException e) {
      throw new NotJson(e.getMessage(), e);
    }
  }

  private static JsonNode parse(ObjectMapper mapper, Path file, String text) {
    JsonNode value;
    try {
      value = mapper.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(text);
    } catch (JsonProcessingException e) {
      throw new NotJson(file + ": not valid JSON" + JsonSyntax.of(e, text, "file"), e);
    }
    String huge = beyondDouble(value);
    if (huge != null)
      throw new NotJson(file + ": " + huge + " is a number out of range: beyond a 64-bit float's (about -1.8e308 to"
          + " 1.8e308), which Python would read as infinity; write a finite number", null);
    return value == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : value;
  }

  /**
   * {@link #read}, for a file that must hold a JSON object ({@code config.json}, {@code
   * tokenizer_config.json}, an index): as transformers' {@code PretrainedConfig.from_dict} and the
   * tokenizer's loader fail on any other value.
   *
   * @param shape the object as the message shows it: {@code "{...}"}, {@code "{\"weight_map\": {...}}"}
   * @throws NotJson as {@link #read}, or {@code FILE: expected a JSON object ({...}), found an empty
   *     file} (or {@code only whitespace}, {@code an array}, {@code a string}, ...)
   */
  public static JsonNode readObject(ObjectMapper mapper, Path file, String shape) throws IOException {
    String text = text(file);
    JsonNode value = parse(mapper, file, text);
    if (value.isObject()) return value;
    String found;
    if (value.isMissingNode()) {
      found = text.isEmpty() ? "an empty file" : "only whitespace";
    } else {
      String kind = value.getNodeType().toString().toLowerCase(Locale.ROOT);
      found = (kind.startsWith("a") || kind.startsWith("o") ? "an " : "a ") + kind;
    }
    throw new NotJson(file + ": expected a JSON object (" + shape + "), found " + found, null);
  }

  /**
   * The place ({@code "rope_scaling"."factor"}, {@code "layers"[2]}) of the first number in {@code
   * value} beyond a double's range, or null. Walked without recursion: a value nested deep is no
   * danger to the stack.
   */
  private static String beyondDouble(JsonNode value) {
    if (value == null) return null;
    Deque<Map.Entry<String, JsonNode>> todo = new ArrayDeque<>();
    todo.push(Map.entry("", value));
    while (!todo.isEmpty()) {
      Map.Entry<String, JsonNode> e = todo.pop();
      JsonNode v = e.getValue();
      // A fraction or exponent (1e400): Python reads it as infinity. An integer of 2,000 digits it reads exactly:
      // the field that uses it refuses it (HfConfig), one it does not use is no matter.
      if (v.isFloatingPointNumber() && !Double.isFinite(v.doubleValue())) return e.getKey().isEmpty() ? "the value" : e.getKey();
      if (v.isObject()) {
        java.util.List<Map.Entry<String, JsonNode>> members = new java.util.ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> f = it.next();
          members.add(Map.entry(e.getKey() + (e.getKey().isEmpty() ? "" : ".") + "\""
              + io.tandem.protocol.text.Clipped.of(f.getKey()) + "\"", f.getValue()));
        }
        for (int i = members.size() - 1; i >= 0; i--) todo.push(members.get(i)); // the first member comes off first
      } else if (v.isArray()) {
        for (int i = v.size() - 1; i >= 0; i--) todo.push(Map.entry(e.getKey() + "[" + i + "]", v.get(i)));
      }
    }
    return null;
  }
}
