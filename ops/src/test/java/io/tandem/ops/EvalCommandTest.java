package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tandem eval} end to end on scripted models, whose answers are known in advance. */
class EvalCommandTest {

  @Test
  void eachModeIsScoredOnItsOwnAnswersAndReportedAsJsonTableAndChart(@TempDir Path tmp) throws Exception {
    Path data = tmp.resolve("math.jsonl");
    Files.writeString(data, """
        {"problem": "What is 90 + 90 + 0?", "answer": "180", "unique_id": "test/1.json"}
        {"problem": "What is half of one?", "answer": "\\\\frac{1}{2}", "unique_id": "test/2.json"}

        {"problem": "What is 179 + 1?", "answer": "180"}
        """);
    // The small model always answers 180; the large one always answers 0.5 (that is, 1/2).
    Path small = tmp.resolve("small.json");
    Files.writeString(small, "{\"tokens\": [\"So\", \" it\", \" is\", \" \\\\boxed{\", \"180\", \"}\", \".\"]}");
    Path large = tmp.resolve("large.json");
    Files.writeString(large, "{\"tokens\": [\"It\", \" is\", \" $\\\\boxed{\", \"0.5\", \"}$\"]}");
    Path out = tmp.resolve("out");
    int code = Tandem.commandLine().execute("eval", "--data", data.toString(), "--small", "scripted:" + small,
        "--large", "scripted:" + large, "--modes", "small,large", "--concurrency", "2", "--out", out.toString(),
        "--json");
    assertEquals(0, code);
    JsonNode results = new ObjectMapper().readTree(Files.readString(out.resolve("results.json")));
    assertEquals(3, results.path("settings").path("warmup_problems").asInt(), "at least 8 by default, at most the problems");
    JsonNode modes = results.path("modes");
    assertEquals(3, Files.readAllLines(out.resolve("samples-small.jsonl")).size(), "the warm-up's answers are not scored");
    assertEquals(2.0 / 3, modes.path("small").path("accuracy").asDouble(), 1e-3);
    assertEquals(1.0 / 3, modes.path("large").path("accuracy").asDouble(), 1e-3);
    assertEquals(8.0, modes.path("small").path("avg_tokens").asDouble(), 1e-9); // 7 tokens and the end of sequence
    assertEquals(1.0, modes.path("small").path("small_token_share").asDouble(), 1e-9);
    assertEquals(1.0, modes.path("large").path("large_token_share").asDouble(), 1e-9);
    assertTrue(modes.path("small").path("tokens_per_s").asDouble() > 0);
    // One step per problem in a single-model mode: the step times of that model only.
    JsonNode steps = modes.path("small").path("step_seconds");
    assertEquals(3, steps.path("small").path("steps").asInt(), steps.toString());
    assertTrue(steps.path("small").path("p50").asDouble() > 0, steps.toString());
    assertTrue(steps.path("small").path("p99").asDouble() >= steps.path("small").path("p50").asDouble(), steps.toString());
    assertTrue(steps.path("large").isMissingNode(), steps.toString());
    assertEquals(3, modes.path("large").path("step_seconds").path("large").path("steps").asInt());
    String table = Files.readString(out.resolve("results.md"));
    assertTrue(table.contains("| small alone | 66.7 | 8.0 |"), table);
    assertTrue(table.contains("| large alone | 33.3 | 6.0 |"), table);
    // How it ran, under the table: a pasted table tells greedy from sampled (tester58e).
    assertTrue(table.contains("\n3 problems, 2 at a time, sampled: temperature 0.6, top-k 50, top-p 0.95, seed 0, at most"
        + " 8,192 tokens an answer.\n"), table);
    assertTrue(Files.readAllLines(out.resolve("samples-large.jsonl")).get(1).contains("\"correct\":true"));
    byte[] png = Files.readAllBytes(out.resolve("accuracy-vs-speed.png"));
    assertEquals((byte) 0x89, png[0]);
    assertEquals('P', png[1]);
  }

  @Test
  void theLastLineNamesEveryFileWritten(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("out");
    List<String> lines = stderrOfOneProblem(tmp, "--large", "scripted:" + tmp.resolve("small.json"), "--modes", "small,speculative",
        "--out", out.toString());
    assertEquals("tandem eval: wrote " + out.resolve("results.json") + ", results.md, accuracy-vs-speed.png, "
        + "samples-small.jsonl, samples-speculative.jsonl", lines.get(lines.size() - 1));
    for (String f : List.of("results.json", "results.md", "accuracy-vs-speed.png", "samples-small.jsonl", "samples-speculative.jsonl"))
      assertTrue(Files.isRegularFile(out.resolve(f)), f);
  }

  /** An earlier run's samples of a mode not run again are removed, and said so: they would read as this run's (tester44a). */
  @Test
  void anEarlierRunsSamplesOfAModeNotRunNowAreRemoved(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("out");
    stderrOfOneProblem(tmp, "--large", "scripted:" + tmp.resolve("small.json"), "--modes", "small,speculative", "--out", out.toString());
    List<String> lines = stderrOfOneProblem(tmp, "--modes", "small", "--out", out.toString());
    assertTrue(lines.contains("tandem eval: removed " + out.resolve("samples-speculative.jsonl") + ", an earlier run's (this run has"
        + " no speculative mode)"), lines.toString());
    assertFalse(Files.exists(out.resolve("samples-speculative.jsonl")));
    assertTrue(Files.isRegularFile(out.resolve("samples-small.jsonl")));
  }

  /** A --warmup beyond the problems to run is cut to them, and the run says so; one problem is "1 problem". */
  @Test
  void aWarmupBeyondTheProblemsIsCutToThemAndSaidSo(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("out");
    List<String> lines = stderrOfOneProblem(tmp, "--modes", "small", "--warmup", "5", "--out", out.toString());
    assertTrue(lines.contains("tandem eval: --warmup 5 is more than the 1 problem to run; each mode warms up on all of them"),
        lines.toString());
    assertTrue(lines.contains("tandem eval: small: warm-up, 1 problem untimed"), lines.toString());
    JsonNode results = new ObjectMapper().readTree(Files.readString(out.resolve("results.json")));
    assertEquals(1, results.path("settings").path("warmup_problems").asInt());
  }

  /**
   * Problems/s is of the problems that ran, as the length is: a failed one ends at once with nothing
   * written (tester53a: failures raised the rate). Both rates share the wall time, so their ratio is
   * the problems that ran over the tokens they wrote.
   */
  @Test
  void problemsPerSecondLeavesOutTheFailedOnes(@TempDir Path tmp) throws Exception {
    String numbers = String.join(" + ", java.util.Collections.nCopies(400, "12"));
    Path data = Files.writeString(tmp.resolve("mixed.jsonl"), "{\"problem\": \"Compute " + numbers
        + ".\", \"answer\": \"4800\", \"unique_id\": \"long-1\"}\n"
        + "{\"problem\": \"Compute 40 + 85 + 79 + 26 + 57 + 87.\", \"answer\": \"374\", \"unique_id\": \"ok-1\"}\n");
    Path out = tmp.resolve("out");
    Run run = run("eval", "--data", data.toString(), "--modes", "small", "--temperature", "0", "--warmup", "0",
        "--out", out.toString());
    assertEquals(0, run.exit(), run.stderr());
    JsonNode small = new ObjectMapper().readTree(Files.readString(out.resolve("results.json"))).at("/modes/small");
    assertEquals(1, small.get("failed").asInt(), small.toString());
    double perToken = small.get("problems_per_s").asDouble() / small.get("tokens_per_s").asDouble();
    assertEquals(1 / small.get("avg_tokens").asDouble(), perToken, 0.05 / small.get("avg_tokens").asDouble(), small.toString());
  }

  /** A --limit beyond the file runs all of it, and says so (tester53a: silent, so a run of 1 read as one of 100). */
  @Test
  void aLimitBeyondTheDataRunsAllOfItAndSaysSo(@TempDir Path tmp) throws Exception {
    List<String> lines = stderrOfOneProblem(tmp, "--modes", "small", "--limit", "100", "--out", tmp.resolve("out").toString());
    assertTrue(lines.contains("tandem eval: --limit 100 is more than the 1 problem in " + tmp.resolve("math.jsonl")
        + "; running all of them"), lines.toString());
  }

  /**
   * A --max-tokens beyond the model's context is said, and the context recorded beside it: the
   * answers end there (tester46c: 100000 on the demo model's 1,024 tokens was recorded as if it held).
   */
  @Test
  void aMaxTokensBeyondTheContextIsSaidAndTheContextRecorded(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("out");
    // The scripted model's context: 1,048,576 tokens.
    List<String> lines = stderrOfOneProblem(tmp, "--modes", "small", "--max-tokens", "2000000", "--out", out.toString());
    assertTrue(lines.contains("tandem eval: --max-tokens 2,000,000 is as much as or more than the models' context (small:"
        + " 1,048,576 tokens, the prompt included): each answer ends where the context does; results.json records the context beside it"
        + " (max_model_len)"), lines.toString());
    JsonNode results = new ObjectMapper().readTree(Files.readString(out.resolve("results.json")));
    assertEquals(2_000_000, results.path("settings").path("max_tokens").asInt());
    assertEquals(1_048_576, results.path("settings").path("max_model_len").path("small").asInt());
  }

  /** After each mode, a line per worker role: its forward passes over the mode's run, and where their time went. */
  @Test
  void eachModeSaysWhatItsWorkersDid(@TempDir Path tmp) throws Exception {
    List<String> lines = stderrOfOneProblem(tmp, "--modes", "small", "--warmup", "0", "--out", tmp.resolve("out").toString());
    java.util.regex.Pattern worker = java.util.regex.Pattern.compile("tandem eval: small: small worker: (\\d+) forward passes, "
        + "mean batch 1\\.00, busy \\d+\\.\\d s of \\d+\\.\\d s, \\d+ prompt tokens prefilled");
    List<java.util.regex.Matcher> said = lines.stream().map(worker::matcher).filter(java.util.regex.Matcher::matches).toList();
    assertEquals(1, said.size(), lines.toString());
    assertTrue(Integer.parseInt(said.get(0).group(1)) >= 3, "one pass per token of \\boxed{180} at least: " + lines);
    assertTrue(lines.stream().noneMatch(l -> l.contains("large worker")), "no large model ran: " + lines);
    // results.json carries the same figures.
    var workers = new com.fasterxml.jackson.databind.ObjectMapper().readTree(tmp.resolve("out/results.json").toFile())
        .path("modes").path("small").path("workers");
    assertEquals(Integer.parseInt(said.get(0).group(1)), workers.path("small").path("forward_passes").asInt(), workers.toString());
    assertEquals(1.0, workers.path("small").path("mean_batch").asDouble(), workers.toString());
    assertTrue(workers.path("small").has("busy_s") && workers.path("small").has("prompt_tokens_prefilled"), workers.toString());
    assertFalse(workers.has("large"), workers.toString());
  }

  /**
   * A problem that fails (here: a prompt beyond the demo model's context) counts as wrong and is
   * left out of the mean length, and the run says so with the first one's error, on stderr and under the table (tester44a
   * read "0/1 correct (0.0%), 0.0 tokens/s" and nothing more).
   */
  @Test
  void problemsThatFailedAreSaidWithTheFirstOnesError(@TempDir Path tmp) throws Exception {
    String numbers = String.join(" + ", java.util.Collections.nCopies(400, "12"));
    Path data = Files.writeString(tmp.resolve("long.jsonl"), "{\"problem\": \"Compute " + numbers
        + ".\", \"answer\": \"4800\", \"unique_id\": \"long-1\"}\n");
    Path out = tmp.resolve("out");
    Run run = run("eval", "--data", data.toString(), "--modes", "small", "--warmup", "0", "--out", out.toString());
    String said = run.stderr();
    // Every problem of the mode failed: nothing was measured, and the exit says so (tester44d: 0).
    assertEquals(1, run.exit(), said);
    // Every figure but accuracy is a dash: none is "left out" of (tester55i).
    assertTrue(said.lines().anyMatch(l -> l.startsWith("tandem eval: small: its one problem failed, counted wrong; nothing else"
        + " was measured; long-1: ") && l.contains("context") && l.endsWith("(samples-small.jsonl has it)")), said);
    assertTrue(said.contains("tandem eval: every problem failed in small: nothing was measured there; see the error above"),
        said);
    String table = Files.readString(out.resolve("results.md"));
    // Takeovers only where there are any (tester54: said of a mode of one model).
    assertTrue(table.contains("small alone: its one problem failed, counted wrong; nothing else was measured (its error is in"
        + " samples-small.jsonl)."), table);
    // Nothing answered, nothing measured: no length, speed or pace of refusals (tester44e read Problems/s 43.7).
    assertTrue(table.contains("| small alone | 0.0 | — | — | — | — | — |"), table);
    JsonNode small = new ObjectMapper().readTree(Files.readString(out.resolve("results.json"))).at("/modes/small");
    for (String figure : List.of("avg_tokens", "tokens_per_s", "problems_per_s", "takeovers_per_problem", "small_token_share",
        "large_token_share", "injected_token_share"))
      assertTrue(small.get(figure).isNull(), figure + ": " + small); // the table's — (tester45c read 0.0 in the JSON)
    assertTrue(said.contains("tandem eval: small: 0/1 correct (0.0%), no answer to measure, "), said);
  }

  /**
   * The lines {@code eval} writes on stderr over one problem ({@code tmp/math.jsonl}) that the
   * small model's script ({@code tmp/small.json}) answers right, with {@code more} options; it exits 0.
   */
  private static List<String> stderrOfOneProblem(Path tmp, String... more) throws Exception {
    Path data = Files.writeString(tmp.resolve("math.jsonl"), "{\"problem\": \"What is 179 + 1?\", \"answer\": \"180\"}\n");
    Path script = Files.writeString(tmp.resolve("small.json"), "{\"tokens\": [\" \\\\boxed{\", \"180\", \"}\"]}");
    List<String> args = new java.util.ArrayList<>(List.of("eval", "--data", data.toString(), "--small", "scripted:" + script));
    args.addAll(List.of(more));
    Run run = run(args.toArray(String[]::new));
    assertEquals(0, run.exit(), run.stderr());
    return run.stderr().lines().toList();
  }

  /**
   * Each problem's --max-tokens is capped at what fits after its prompt in the smallest context, as
   * the server caps max_tokens: a speculative answer beside a large model of a smaller context ran
   * on with the small model past it, up to the next takeover (tester55d: 326 tokens beside 300).
   */
  @Test
  void aSpeculativeAnswerEndsWhereTheSmallerContextDoes(@TempDir Path tmp) throws Exception {
    Path demo = LauncherIT.repo().resolve("ops/demo");
    Path large = Files.createDirectories(tmp.resolve("large-300"));
    Files.copy(demo.resolve("large/model.safetensors"), large.resolve("model.safetensors"));
    for (String f : List.of("tokenizer.json", "tokenizer_config.json"))
      if (Files.exists(demo.resolve("large").resolve(f))) Files.copy(demo.resolve("large").resolve(f), large.resolve(f));
    com.fasterxml.jackson.databind.node.ObjectNode config = (com.fasterxml.jackson.databind.node.ObjectNode)
        new ObjectMapper().readTree(demo.resolve("large/config.json").toFile());
    config.put("max_position_embeddings", 300).put("sliding_window", 300);
    Files.writeString(large.resolve("config.json"), config.toString());
    Path data = Files.write(tmp.resolve("two.jsonl"), Files.readAllLines(demo.resolve("heldout.jsonl")).subList(0, 2));
    Run run = run("eval", "--data", data.toString(), "--small", demo.resolve("small").toString(), "--large", large.toString(),
        "--modes", "speculative", "--temperature", "0", "--warmup", "0", "--out", tmp.resolve("out").toString());
    assertEquals(0, run.exit(), run.stderr());
    for (String line : Files.readAllLines(tmp.resolve("out/samples-speculative.jsonl"))) {
      JsonNode sample = new ObjectMapper().readTree(line);
      // The demo prompt is 37 tokens: 263 fit.
      assertTrue(sample.path("tokens").asInt() <= 300 - 37, "within the large model's context: " + line);
    }
    // A prompt past the large model's context fails, as the server's 400 says, rather than going on with the small model
    // alone (tester55g: 158 tokens beside a context of 20).
    config.put("max_position_embeddings", 20).put("sliding_window", 20);
    Files.writeString(large.resolve("config.json"), config.toString());
    Run tooLong = run("eval", "--data", data.toString(), "--small", demo.resolve("small").toString(), "--large", large.toString(),
        "--modes", "speculative", "--temperature", "0", "--warmup", "0", "--out", tmp.resolve("out20").toString());
    assertEquals(1, tooLong.exit(), tooLong.stderr());
    for (String line : Files.readAllLines(tmp.resolve("out20/samples-speculative.jsonl")))
      assertTrue(line.contains("the prompt has 37 tokens, and the large model's context is 20 tokens: no room to generate"), line);
  }

  /** What {@code tandem args} exited with and wrote on stderr (where eval's own lines go, beside picocli's). */
  private record Run(int exit, String stderr) {}

  private static Run run(String... args) {
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream stderr = System.err;
    System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      int code = Tandem.commandLine().execute(args);
      return new Run(code, err.toString(java.nio.charset.StandardCharsets.UTF_8));
    } finally {
      System.setErr(stderr);
    }
  }

  @Test
  void aFileWithoutAnswersIsRejectedWithItsLineNumber(@TempDir Path tmp) throws Exception {
    Path data = tmp.resolve("bad.jsonl");
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": \"2\"}\n{\"problem\": \"2+2\"}\n");
    java.io.StringWriter err = new java.io.StringWriter();
    var cl = Tandem.commandLine();
    cl.setErr(new java.io.PrintWriter(err));
    int code = cl.execute("eval", "--data", data.toString(), "--small", "scripted:/x", "--large", "scripted:/x");
    assertEquals(1, code);
    assertTrue(err.toString().contains("line 2"), err.toString());
  }
}
