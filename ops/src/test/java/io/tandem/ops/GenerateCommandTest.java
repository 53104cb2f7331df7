package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/** {@code tandem generate} end to end: the launcher, a node, sessions and workers on scripted models. */
class GenerateCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  static Stream<Path> cases() throws Exception {
    Path dir = Path.of(GenerateCommandTest.class.getResource("/fixtures/scripted").toURI());
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".case.json")).sorted().toList().stream();
    }
  }

  @ParameterizedTest
  @MethodSource("cases")
  void everyScriptedCaseMatchesThePapersLoopInTextAndSpans(Path caseFile, @TempDir Path tmp) throws Exception {
    Path expectedFile = caseFile.resolveSibling(caseFile.getFileName().toString().replace(".case.json", ".expected.json"));
    Path trace = tmp.resolve("trace.json");
    Result r = run("generate", "--case", caseFile.toString(), "--trace", trace.toString(), "--quiet");
    assertEquals(0, r.exit, r.err);

    JsonNode expected = JSON.readTree(expectedFile.toFile());
    JsonNode actual = JSON.readTree(trace.toFile());
    assertEquals(expected.get("text").asText(), actual.get("text").asText());
    assertEquals(expected.get("text").asText() + "\n", r.out, "the command prints the text");
    assertEquals(spans(expected.get("spans"), false), spans(actual.get("spans"), true));
    if (expected.has("large_tokens"))
      assertEquals(expected.get("large_tokens").asInt(), actual.get("counters").get("tokens").get("large").asInt());
    for (JsonNode s : actual.get("spans")) {
      assertTrue(s.get("end").asInt() >= s.get("start").asInt());
      assertTrue(List.of("draft", "lookahead", "takeover", "verify", "recap", "begin", "think").contains(s.get("reason").asText()));
    }
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void greedyGenerationOnAFixtureCheckpointPrintsHuggingFacesTokens(String fixture) throws Exception {
    Path dir = Path.of("..", "inference", "src", "test", "resources", "fixtures", fixture).toAbsolutePath();
    JsonNode greedy = JSON.readTree(dir.resolve("golden.json").toFile()).get("greedy_generation");
    // The tokenizer is word-level: id i is "wi", except the special tokens (e.g. llama's <s> = 1).
    java.util.Map<Integer, String> words = new java.util.HashMap<>();
    JSON.readTree(dir.resolve("tokenizer.json").toFile()).get("model").get("vocab")
        .fields().forEachRemaining(e -> words.put(e.getValue().asInt(), e.getKey()));
    StringBuilder prompt = new StringBuilder();
    for (JsonNode id : greedy.get("prompt_ids")) prompt.append(prompt.length() == 0 ? "" : " ").append(words.get(id.asInt()));
    Result r = run("generate", "--small", dir.toString(), "--mode", "small", "--no-chat-template", "--temperature", "0",
        "--max-tokens", String.valueOf(greedy.get("max_new_tokens").asInt()), "--prompt", prompt.toString(), "--quiet");
    assertEquals(0, r.exit, r.err);
    StringBuilder expected = new StringBuilder();
    for (JsonNode id : greedy.get("new_token_ids")) expected.append(" w").append(id.asInt());
    assertEquals(expected.toString().trim(), r.out.trim());
  }

  /**
   * The demo pair knows one task; a prompt outside it gets a line saying so, --quiet or not, and
   * the same line when the pair's folders are given: what to give instead is other models.
   */
  @Test
  void theDemoPairSaysWhenAPromptIsOutsideItsTask() throws Exception {
    String warning = "the demo pair answers only sums of six numbers from 10 to 99";
    String line = "tandem generate: " + warning + " written exactly as \"Compute 40 + 85 + 79 + 26 + 57 + 87.\" is (single"
        + " spaces, the full stop; alone, or after eval's instruction); expect a wrong answer or text without meaning for this"
        + " prompt, or give other models with"
        + " --small and --large";
    assertTrue(stderrOf("generate", "--prompt", "What is 2+2?", "--max-tokens", "4", "--quiet").lines().toList().contains(line));
    // The task's sum in another form, which the pair answered wrongly (tester51a: 446 for 374 without the full stop).
    assertTrue(stderrOf("generate", "--prompt", "Compute 40 + 85 + 79 + 26 + 57 + 87", "--max-tokens", "4", "--quiet").lines()
        .toList().contains(line), "without the full stop");
    // The test runs in ops/: the demo folders are demo/small and demo/large.
    assertTrue(stderrOf("generate", "--small", "demo/small", "--large", "demo/large", "--prompt", "What is 2+2?", "--max-tokens", "4",
        "--quiet").lines().toList().contains(line), "the pair given by its folders");
    assertTrue(stderrOf("generate", "--small", "demo/small", "--mode", "small", "--prompt", "What is 2+2?", "--max-tokens", "4",
        "--quiet").lines().toList().contains("tandem generate: the demo small model answers only sums of six numbers from 10 to 99"
        + " written exactly as \"Compute 40 + 85 + 79 + 26 + 57 + 87.\" is (single spaces, the full stop; alone, or after eval's"
        + " instruction); expect a wrong answer"
        + " or text without meaning for this prompt, or give another model with --small"));
    assertTrue(!stderrOf("generate", "--prompt", "Compute 40 + 85 + 79 + 26 + 57 + 87.", "--max-tokens", "4", "--quiet")
        .contains("tandem generate:"), "a question of the task, its total in the range trained on");
    assertTrue(!stderrOf("generate", "--prompt", "Please reason step by step, and put your final answer within \\boxed{}. Compute"
        + " 13 + 36 + 15 + 42 + 64 + 10.", "--max-tokens", "4", "--quiet").contains("tandem generate:"),
        "after eval's instruction, as the pair was trained on it too (tester56c)");
    // Six two-digit numbers whose total is below 100: the task's form, outside what the pair learnt.
    assertTrue(stderrOf("generate", "--prompt", "Compute 10 + 10 + 10 + 10 + 10 + 10.", "--max-tokens", "4", "--quiet").lines()
        .toList().contains("tandem generate: this sum's total, 60, is below 100, which six numbers from 10 to 99 rarely reach; the"
            + " demo models have not learnt such sums, and their answer is likely wrong"));
    Path tiny = Path.of("..", "inference", "src", "test", "resources", "fixtures", "qwen2-tiny").toAbsolutePath();
    assertTrue(!stderrOf("generate", "--small", tiny.toString(), "--mode", "small", "--no-chat-template", "--prompt", "w1 w2",
        "--max-tokens", "4", "--quiet").contains(warning), "other models are not the demo pair");
  }

  private static String stderrOf(String... args) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream old = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, run(args).exit);
    } finally {
      System.setErr(old);
    }
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void aMissingModelIsOneClearLineAndANonZeroExit() throws Exception {
    Result r = run("generate", "--small", "scripted:/no/such/file.json", "--large", "scripted:/no/such/file.json",
        "--prompt", "hi");
    assertNotEquals(0, r.exit);
    assertTrue(r.err.contains("no such file /no/such/file.json"), r.err);
  }

  @Test
  void anUnknownOptionIsRejectedWithAPointerToHelp() {
    Result r = run("generate", "--frobnicate");
    assertEquals(2, r.exit);
    assertTrue(r.err.contains("Unknown option: '--frobnicate'") && r.err.contains("--help"), r.err);
  }

  /** Each command's help, and nothing on stderr: a % in a description picocli could not format was a WARN there (tester47c). */
  @Test
  void everyCommandHasHelp() {
    for (String[] cmd : new String[][] {{"--help"}, {"generate", "--help"}, {"serve", "--help"}, {"eval", "--help"},
        {"simulate", "--help"}, {"make-checkpoint", "--help"}, {"train-demo", "--help"}, {"bench", "--help"},
        {"bench", "orchestration", "--help"}, {"bench", "model", "--help"}, {"bench", "serve", "--help"},
        {"bench", "http", "--help"}}) {
      // picocli warns on System.err itself, not on the command line's err.
      ByteArrayOutputStream warned = new ByteArrayOutputStream();
      PrintStream stderr = System.err;
      Result r;
      System.setErr(new PrintStream(warned, true, StandardCharsets.UTF_8));
      try {
        r = run(cmd);
      } finally {
        System.setErr(stderr);
      }
      assertEquals(0, r.exit, String.join(" ", cmd));
      assertTrue(r.out.contains("Usage:"), String.join(" ", cmd) + " printed: " + r.out + r.err);
      assertEquals("", r.err + warned.toString(StandardCharsets.UTF_8), String.join(" ", cmd));
    }
  }

  private static List<String> spans(JsonNode spans, boolean merge) {
    List<String> out = new ArrayList<>();
    for (JsonNode s : spans) {
      String author = s.get("author").asText(), text = s.get("text").asText();
      if (text.isEmpty()) continue;
      if (merge && !out.isEmpty() && out.get(out.size() - 1).startsWith(author + ": "))
        out.set(out.size() - 1, out.get(out.size() - 1) + text);
      else out.add(author + ": " + text);
    }
    return out;
  }

  record Result(int exit, String out, String err) {}

  static Result run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StringWriter err = new StringWriter();
    PrintStream oldOut = System.out;
    try (LoggerLevels levels = LoggerLevels.kept()) {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      CommandLine cl = Tandem.commandLine();
      cl.setErr(new PrintWriter(err, true));
      int exit = cl.execute(args);
      cl.getOut().flush();
      return new Result(exit, out.toString(StandardCharsets.UTF_8), err.toString());
    } finally {
      System.setOut(oldOut);
    }
  }
}
