package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A CI-sized {@code tandem eval}: the committed demo pair on the first held-out problems, greedy,
 * through the real session and worker actors.
 *
 * <p>The committed pair measured 2% (small) and 0% (speculative) on 100 held-out problems (see
 * ops/demo/README.md): it is undertrained, so any accuracy floor above 0 would fail by chance. The
 * floors stay at 0 until a better-trained pair is committed; what this test holds today is the
 * format: answers are reasoning traces that end in a boxed answer, and the large model takes over.
 */
class DemoEvalTest {

  static final int PROBLEMS = 8;
  static final double SMALL_FLOOR = 0.0; // set from the measured accuracy
  static final double SPECULATIVE_FLOOR = 0.0; // set from the measured accuracy

  @Test
  void theDemoPairSolvesHeldOutProblemsAboveItsFloorInEveryMode(@TempDir Path out) throws Exception {
    int code = Tandem.commandLine().execute("eval", "--limit", String.valueOf(PROBLEMS), "--modes",
        "small,speculative", "--temperature", "0", "--concurrency", String.valueOf(PROBLEMS), "--out", out.toString(),
        "--json");
    assertEquals(0, code);
    JsonNode results = new ObjectMapper().readTree(Files.readString(out.resolve("results.json")));
    JsonNode small = results.path("modes").path("small");
    JsonNode speculative = results.path("modes").path("speculative");
    assertEquals(PROBLEMS, small.path("problems").asInt());
    assertEquals(0, small.path("failed").asInt() + speculative.path("failed").asInt());
    assertTrue(small.path("answered").asInt() >= PROBLEMS - 1, "the small model ends with a boxed answer: " + small);
    assertTrue(small.path("accuracy").asDouble() >= SMALL_FLOOR, "small accuracy " + small);
    assertTrue(speculative.path("accuracy").asDouble() >= SPECULATIVE_FLOOR, "speculative accuracy " + speculative);
    assertTrue(speculative.path("large_token_share").asDouble() > 0, "the large model wrote part of the answers");
    assertTrue(small.path("avg_tokens").asDouble() > 50, "answers are reasoning traces, not a token or two");
    assertTrue(Files.size(out.resolve("accuracy-vs-speed.png")) > 1000);
    assertTrue(Files.readString(out.resolve("results.md")).contains("Speculative Thinking"));
  }
}
