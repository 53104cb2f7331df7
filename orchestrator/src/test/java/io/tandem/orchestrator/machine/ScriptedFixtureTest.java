package io.tandem.orchestrator.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Span;
import io.tandem.protocol.Trace;
import io.tandem.protocol.config.PaperConfigLoader;
import io.tandem.protocol.config.SpeculativeConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scripted case in fixtures/scripted/ against the output of the paper's own loop. */
class ScriptedFixtureTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void theExampleCaseReproducesThePapersLoop() throws Exception {
    Path caseFile = resource("example.case.json");
    JsonNode scripted = JSON.readTree(caseFile.toFile());
    JsonNode expected = JSON.readTree(resource("example.expected.json").toFile());
    SpeculativeConfig config = PaperConfigLoader.loadJsonCase(caseFile).config();
    int maxTokens = scripted.has("max_tokens") ? scripted.get("max_tokens").asInt() : 100_000;

    Trace trace =
        new ScriptedDriver(strings(scripted.get("small")), strings(scripted.get("large")))
            .run(new SpeculativeThinking(config, maxTokens, () -> 0L));

    assertEquals(expected.get("text").asText(), trace.text());
    List<String[]> expectedSpans = new ArrayList<>();
    for (JsonNode s : expected.get("spans")) {
      expectedSpans.add(new String[] {s.get("author").asText(), s.get("text").asText()});
    }
    List<String[]> actualSpans = mergedByAuthor(trace.spans());
    assertEquals(render(expectedSpans), render(actualSpans));
    assertEquals(expected.get("large_tokens").asInt(), trace.counters().largeTokens());
    assertEquals(FinishReason.stop, trace.finishReason());
  }

  /** Consecutive spans by one author joined; spans without text (a lone eos) left out. */
  static List<String[]> mergedByAuthor(List<Span> spans) {
    List<String[]> merged = new ArrayList<>();
    for (Span s : spans) {
      if (s.text().isEmpty()) continue;
      String[] last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
      if (last != null && last[0].equals(s.author().name())) {
        last[1] = last[1] + s.text();
      } else {
        merged.add(new String[] {s.author().name(), s.text()});
      }
    }
    return merged;
  }

  private static String render(List<String[]> spans) {
    StringBuilder sb = new StringBuilder();
    for (String[] s : spans) sb.append(s[0]).append(": ").append(s[1].replace("\n", "\\n")).append('\n');
    return sb.toString();
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static Path resource(String name) throws Exception {
    return Path.of(ScriptedFixtureTest.class.getResource("/fixtures/scripted/" + name).toURI());
  }
}
