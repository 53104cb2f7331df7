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
    List<Problem> out = new ArrayList<>();
    int lineNo = 0;
    for (String line : io.tandem.protocol.text.Utf8Files.lines("--data", file)) {
      lineNo++;
      if (line.isBlank()) continue;
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
    }
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
