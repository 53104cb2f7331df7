package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tandem bench serve} on the demo pair: every point serves the same problems, at most N at a time. */
class BenchServeTest {

  @Test
  void eachPointServesTheWholeWorkloadAndReportsBusyWorkers() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream was = System.out;
    int code;
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      // Lanes started together: staggered by one session's measured lifetime, a single slow
      // measurement (a GC pause on a loaded machine) spread them so far apart that sessions this
      // short never met in a pass (CI on 765c1d6: mean batch 1.0 at 3 sessions).
      code = Tandem.commandLine().execute("bench", "serve", "--sessions", "1,3", "--no-stagger",
          "--problems", "4", "--new-tokens", "24", "--runs", "1", "--batching", "true", "--json");
    } finally {
      System.setOut(was);
    }
    assertEquals(0, code);
    String text = out.toString(StandardCharsets.UTF_8).strip();
    JsonNode root = new ObjectMapper().readTree(text.substring(text.lastIndexOf("\n{") + 1));
    assertEquals(4, root.path("problems").asInt());
    assertEquals(2, root.path("runs").size());
    for (JsonNode run : root.path("runs")) {
      // Four sessions of at most 24 tokens each, whatever the concurrency.
      long tokens = run.path("tokens").asLong();
      assertTrue(tokens > 4 && tokens <= 4 * 24, "tokens of 4 sessions of at most 24: " + run);
      double busy = run.path("busy_small").asDouble();
      assertTrue(busy > 0 && busy < 1.5, "the small worker's busy share of the wall time: " + run);
    }
    assertTrue(root.path("runs").get(1).path("mean_batch_small").asDouble() > 1, "3 sessions at once share passes: " + root);
  }

  @Test
  void impossibleCountsAreRefusedInOneLineBeforeAnyModelLoads() {
    assertRefused("--problems 4 is fewer than --sessions 8", "--sessions", "1,8", "--problems", "4");
    assertRefused("--sessions 0: each concurrency must be at least 1", "--sessions", "0");
    assertRefused("--sessions -2: each concurrency must be at least 1", "--sessions", "-2", "--problems", "4");
    assertRefused("--problems 0: give at least 1 problem", "--problems", "0");
    assertRefused("--runs 0: give at least 1 run", "--runs", "0");
    assertRefused("--new-tokens 0: each session needs at least 1 token", "--new-tokens", "0");
    // The demo's 500 held-out questions: a 501st would be a question served twice, a prefix-cache hit.
    assertRefused("--problems 501 is more than the 500 questions in", "--sessions", "1", "--problems", "501");
    assertRefused("(the default is four times the largest --sessions)", "--sessions", "200");
    // The demo pair named by its folders serves the demo's own questions too.
    assertRefused("--problems 501 is more than the 500 questions in", "--sessions", "1", "--problems", "501",
        "--small", io.tandem.ops.demo.DemoModels.dir().resolve("small").toString(),
        "--large", io.tandem.ops.demo.DemoModels.dir().resolve("large").toString());
  }

  @Test
  void aPromptFileThatIsNotJsonOrRepeatsAQuestionIsRefusedNamingTheLine(@TempDir Path dir) throws Exception {
    Path garbled = Files.writeString(dir.resolve("garbled.jsonl"), "{\"problem\": \"a\"}\n{\"problem\": \"b\"}\n{\"problem\": \n");
    assertRefused("--prompts " + garbled + " line 3: not JSON (column 13): the line ends inside the object that begins at column 1"
        + " (was it cut short?)", "--prompts", garbled.toString(), "--sessions", "1", "--problems", "3");
    Path repeated = Files.writeString(dir.resolve("repeated.jsonl"), "{\"problem\": \"a\"}\n{\"problem\": \"b\"}\n{\"problem\": \"a\"}\n");
    assertRefused("line 3: the question of line 1 again", "--prompts", repeated.toString(), "--sessions", "1", "--problems", "3");
    Path number = Files.writeString(dir.resolve("number.jsonl"), "{\"problem\": \"a\"}\n{\"problem\": 5}\n");
    assertRefused("line 2: \"problem\" is 5; give the question as a non-empty string", "--prompts", number.toString(),
        "--sessions", "1", "--problems", "2");
  }

  private static void assertRefused(String message, String... args) {
    StringWriter err = new StringWriter();
    var cl = Tandem.commandLine();
    cl.setErr(new PrintWriter(err, true));
    String[] all = new String[args.length + 2];
    all[0] = "bench";
    all[1] = "serve";
    System.arraycopy(args, 0, all, 2, args.length);
    int code = cl.execute(all);
    assertTrue(code != 0, err.toString());
    assertTrue(err.toString().contains(message), err.toString());
    assertEquals(1, err.toString().strip().lines().count(), "one line: " + err);
  }
}
