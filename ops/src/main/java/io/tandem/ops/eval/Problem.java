package io.tandem.ops.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** One evaluation problem in MATH500's JSONL form: {@code problem}, {@code answer}, optional {@code unique_id}. */
public record Problem(String id, String problem, String answer) {

  /** Reads a decimal answer as written ({@code 1.50} stays {@code "1.50"}), not as a double. */
  /** As a request body is read: a member given twice, or more after the object, is refused, not one of them kept. */
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .setNodeFactory(com.fasterxml.jackson.databind.node.JsonNodeFactory.withExactBigDecimals(true));

  /** Reads a JSONL file; blank lines are skipped, a line without problem or answer is an error. */
  public static List<Problem> readJsonl(Path file) throws IOException {
    return readJsonl(file, Integer.MAX_VALUE);
  }

  /**
   * The first {@code limit} problems of a JSONL file, read no further than the line that holds the
   * last of them (a pipe such as {@code <(yes ...)} is read only as far as needed); blank lines are
   * skipped.
   *
   * @throws IllegalArgumentException naming the file and line: a line that is not JSON or lacks
   *     {@code problem} or {@code answer}; a {@code problem} that is not a non-empty string; an
   *     {@code answer} or {@code unique_id} that is neither a string nor a number (a list or an
   *     object would be scored as an empty string); a {@code unique_id} given twice; a file that holds none, or more than {@link
   *     io.tandem.protocol.text.Utf8Files#MAX_BYTES} before the limit is reached
   */
  public static List<Problem> readJsonl(Path file, int limit) throws IOException {
    List<Problem> out = new ArrayList<>();
    java.util.Map<String, Integer> lineOf = new java.util.HashMap<>();
    io.tandem.protocol.text.Utf8Files.eachLine("--data", file, (lineNo, line) -> {
      if (line.isBlank()) return true;
      JsonNode n;
      try {
        n = JSON.readTree(line);
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalArgumentException(file + " line " + lineNo + ": not JSON" + io.tandem.protocol.text.JsonSyntax.ofLine(e,
            line) + "; each line is one object {\"problem\": ..., \"answer\": ...} (MATH500 JSONL)");
      }
      if (!n.isObject())
        throw new IllegalArgumentException(file + " line " + lineNo + ": " + kindOf(n) + ", not an object; JSON Lines hold one"
            + " object {\"problem\": ..., \"answer\": ...} per line (MATH500 JSONL)");
      if (!n.hasNonNull("problem") || !n.hasNonNull("answer"))
        throw new IllegalArgumentException(file + " line " + lineNo + ": needs \"problem\" and \"answer\" (MATH500 JSONL)");
      JsonNode problem = n.get("problem");
      if (!problem.isTextual() || problem.asText().isBlank())
        throw new IllegalArgumentException(file + " line " + lineNo + ": \"problem\" is " + io.tandem.protocol.JsonInteger.show(problem)
            + "; give the question as a non-empty string (MATH500 JSONL)");
      String answer = scalar(n, "answer", file, lineNo);
      // An empty answer would score an empty \boxed{} right (tester51c: 100% from a data glitch).
      if (answer.isBlank())
        throw new IllegalArgumentException(file + " line " + lineNo + ": \"answer\" is empty; give the problem's answer (MATH500 JSONL)");
      String id = n.hasNonNull("unique_id") ? scalar(n, "unique_id", file, lineNo) : "line-" + lineNo;
      if (id.isBlank())
        throw new IllegalArgumentException(file + " line " + lineNo + ": \"unique_id\" is empty; give the problem an id, or leave"
            + " the field out (MATH500 JSONL)");
      // A problem given twice would be run and scored twice, its answers under one id.
      Integer first = lineOf.putIfAbsent(id, lineNo);
      if (first != null)
        throw new IllegalArgumentException(file + " line " + lineNo + ": unique_id " + io.tandem.protocol.text.Clipped.of(id)
            + " is line " + first + "'s too; give each problem once, under an id of its own");
      out.add(new Problem(id, problem.asText(), answer));
      return out.size() < limit;
    });
    if (out.isEmpty()) throw new IllegalArgumentException(file + " holds no problems");
    return out;
  }

  /** What a line that is no object holds: {@code an array (a JSON file's list of problems on one line?)}, {@code a string}. */
  public static String kindOf(JsonNode n) {
    return n.isArray() ? "an array (a whole JSON file's list on one line? write each of its objects on a line of its own)"
        : n.isTextual() ? "a string" : n.isNumber() ? "a number" : n.isBoolean() ? "true or false" : "null";
  }

  /** {@code field} of line {@code lineNo} as text: a string, or a number as written. */
  private static String scalar(JsonNode line, String field, Path file, int lineNo) {
    JsonNode v = line.get(field);
    // 1e400 is no number a 64-bit float holds, and would be read as "Infinity".
    if (v.isNumber() && !v.isIntegralNumber() && !Double.isFinite(v.asDouble()))
      throw new IllegalArgumentException(file + " line " + lineNo + ": \"" + field + "\" is a number out of a 64-bit float's"
          + " range; write it as a string (MATH500 JSONL)");
    if (v.isTextual() || v.isNumber()) return v.asText();
    throw new IllegalArgumentException(file + " line " + lineNo + ": \"" + field + "\" is " + io.tandem.protocol.JsonInteger.show(v)
        + "; give it as a string or a number (MATH500 JSONL)");
  }

  /** Writes problems as MATH500 JSONL. */
  public static void writeJsonl(List<Problem> problems, Path file) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (Problem p : problems) {
      sb.append(JSON.writeValueAsString(JSON.createObjectNode()
          .put("problem", p.problem()).put("answer", p.answer()).put("unique_id", p.id()))).append('\n');
    }
    Files.writeString(file, sb);
  }
}
