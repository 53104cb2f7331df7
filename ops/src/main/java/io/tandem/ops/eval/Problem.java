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

  private static final ObjectMapper JSON = new ObjectMapper();

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
   *     {@code problem} or {@code answer}; a file that holds none, or more than {@link
   *     io.tandem.protocol.text.Utf8Files#MAX_BYTES} before the limit is reached
   */
  public static List<Problem> readJsonl(Path file, int limit) throws IOException {
    List<Problem> out = new ArrayList<>();
    io.tandem.protocol.text.Utf8Files.eachLine("--data", file, (lineNo, line) -> {
      if (line.isBlank()) return true;
      JsonNode n;
      try {
        n = JSON.readTree(line);
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalArgumentException(file + " line " + lineNo + ": not JSON (" + e.getOriginalMessage()
            + "); each line is one object {\"problem\": ..., \"answer\": ...} (MATH500 JSONL)");
      }
      if (!n.isObject() || !n.hasNonNull("problem") || !n.hasNonNull("answer"))
        throw new IllegalArgumentException(file + " line " + lineNo + ": needs \"problem\" and \"answer\" (MATH500 JSONL)");
      String id = n.hasNonNull("unique_id") ? n.get("unique_id").asText() : "line-" + lineNo;
      out.add(new Problem(id, n.get("problem").asText(), n.get("answer").asText()));
      return out.size() < limit;
    });
    if (out.isEmpty()) throw new IllegalArgumentException(file + " holds no problems");
    return out;
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
