package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** make-checkpoint and bench model from the command line, on a tiny random checkpoint. */
class ModelCommandsTest {

  @TempDir Path tmp;

  @Test
  void benchModelReportsThroughputAsJsonForAMadeCheckpoint() throws Exception {
    // The fixtures live once, in the inference module's test resources (Maven runs tests in the module folder).
    Path tokenizer = Path.of("..", "inference", "src", "test", "resources", "fixtures", "qwen-tokenizer").toAbsolutePath();
    Path dir = tmp.resolve("tiny");
    int made = new CommandLine(new MakeCheckpointCommand())
        .execute("--shape", "tiny", "--out", dir.toString(), "--seed", "1", "--tokenizer", tokenizer.toString());
    assertEquals(0, made);
    assertTrue(Files.isRegularFile(dir.resolve("model.safetensors")));

    PrintStream stdout = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true));
    int code;
    try {
      code = new CommandLine(new BenchModelCommand())
          .execute("--model", dir.toString(), "--batch", "1,2", "--prompt-tokens", "8", "--new-tokens", "4", "--runs", "1", "--json");
    } finally {
      System.setOut(stdout);
    }
    assertEquals(0, code);
    // Without a logback config, DJL's debug logging also goes to stdout: the JSON is the last line.
    String[] lines = captured.toString().trim().split("\n");
    JsonNode result = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertTrue(result.get("prefill_tokens_per_s").asDouble() > 0);
    assertEquals(2, result.get("decode").size());
    assertEquals(2, result.get("decode").get(1).get("batch").asInt());
    assertTrue(result.get("decode").get(1).get("tokens_per_s").asDouble() > 0);
    assertTrue(result.get("peak_rss_bytes").asLong() > 0);
    assertEquals(2L * 2 * 2 * 16 * 4, result.get("kv_bytes_per_token").asLong());
  }

  @Test
  void makeCheckpointWithoutTokenizerShipsQwensTokenizerFromTheProjectItself() throws Exception {
    Path dir = tmp.resolve("tiny-default-tokenizer");
    int made = Tandem.commandLine().execute("make-checkpoint", "--shape", "tiny", "--out", dir.toString(), "--seed", "2");
    assertEquals(0, made);
    Path fixture = Path.of("..", "inference", "src", "test", "resources", "fixtures", "qwen-tokenizer");
    for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
      assertEquals(-1L, Files.mismatch(fixture.resolve(f), dir.resolve(f)), f + " is Qwen's, byte for byte");
    }
  }

  /** A checkpoint already in --out is the command line's mistake (exit 2), as train-demo's model already there is (tester45c). */
  @Test
  void makeCheckpointOverACheckpointWithoutForceIsAMistakeNamingForce() throws Exception {
    Path dir = tmp.resolve("tiny-twice");
    assertEquals(0, Tandem.commandLine().execute("make-checkpoint", "--shape", "tiny", "--out", dir.toString()));
    CommandLineMistakesTest.Result again = CommandLineMistakesTest.run("make-checkpoint", "--shape", "tiny", "--out", dir.toString());
    assertEquals(2, again.exit(), again.err());
    assertEquals("tandem make-checkpoint: --out " + dir + " already holds a checkpoint; pass --force to overwrite it, or give"
        + " another folder", again.err());
  }

  /**
   * --force replaces the checkpoint in --out whole: written beside it first (so that an interruption keeps the old one;
   * tester49b lost a 3 GB checkpoint to a Ctrl-C), its shards taking the old ones' place and nothing left beside it.
   */
  @Test
  void makeCheckpointWithForceReplacesTheCheckpointWhole() throws Exception {
    Path dir = tmp.resolve("tiny-replaced");
    assertEquals(0, Tandem.commandLine().execute("make-checkpoint", "--shape", "tiny", "--out", dir.toString(),
        "--max-shard-bytes", "10000000"));
    assertTrue(Files.exists(dir.resolve("model.safetensors.index.json")), "sharded first");
    assertEquals(0, Tandem.commandLine().execute("make-checkpoint", "--shape", "tiny", "--out", dir.toString(), "--force",
        "--seed", "3"));
    try (var files = Files.list(dir)) {
      assertEquals(java.util.List.of("LICENSE.npm-package", "config.json", "generation_config.json", "model.safetensors",
          "tokenizer.json", "tokenizer_config.json"), files.map(f -> f.getFileName().toString()).sorted().toList(),
          "one file of weights now, the old shards and their index gone");
    }
    try (var files = Files.list(tmp)) {
      assertEquals(java.util.List.of("tiny-replaced"), files.map(f -> f.getFileName().toString()).toList(), "nothing beside it");
    }
  }

  @Test
  void benchModelMeasuresFloat16AndRefusesAnUnknownPrecisionInOneLine() throws Exception {
    Path tokenizer = Path.of("..", "inference", "src", "test", "resources", "fixtures", "qwen-tokenizer").toAbsolutePath();
    Path dir = tmp.resolve("tiny");
    assertEquals(0, new CommandLine(new MakeCheckpointCommand())
        .execute("--shape", "tiny", "--out", dir.toString(), "--seed", "1", "--tokenizer", tokenizer.toString()));

    PrintStream stdout = System.out;
    PrintStream stderr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream noFolderErr = new ByteArrayOutputStream();
    int half;
    int noFolder;
    try {
      System.setOut(new PrintStream(out, true));
      half = new CommandLine(new BenchModelCommand()).execute("--model", dir.toString(), "--batch", "2",
          "--prompt-tokens", "8", "--new-tokens", "2", "--runs", "1", "--precision", "float16", "--json");
      System.setErr(new PrintStream(noFolderErr, true));
      noFolder = new CommandLine(new BenchModelCommand()).execute("--model", tmp.resolve("absent").toString());
    } finally {
      System.setOut(stdout);
      System.setErr(stderr);
    }
    assertEquals(0, half);
    String[] lines = out.toString().trim().split("\n");
    JsonNode result = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertEquals("float16", result.get("precision").asText());
    assertEquals("one_call", result.get("decode_steps").asText());
    assertTrue(result.get("decode").get(0).get("tokens_per_s").asDouble() > 0);
    // The KV cache stays float32 under float16 weights.
    assertEquals(2L * 2 * 2 * 16 * 4, result.get("kv_bytes_per_token").asLong());

    // A value not among an option's choices, or out of its range, is a usage error (exit 2), as picocli's own.
    CommandLineMistakesTest.Result bad = CommandLineMistakesTest.run("bench", "model", "--model", dir.toString(),
        "--precision", "int4");
    assertEquals(2, bad.exit());
    assertTrue(bad.err().startsWith("tandem bench model: --precision: unknown precision 'int4'") && bad.err().contains("float16"),
        bad.err());

    // Refused before loading, with what to do: not after a prefill, by the forward pass.
    // A usage error (exit 2) naming the range that fits.
    CommandLineMistakesTest.Result tooLong = CommandLineMistakesTest.run("bench", "model", "--model", dir.toString(),
        "--prompt-tokens", "32760", "--new-tokens", "64");
    assertEquals(2, tooLong.exit());
    assertEquals("tandem bench model: --prompt-tokens 32760: give a whole number from 1 to 32704: this model's"
        + " context length 32768, its max_position_embeddings, less --new-tokens 64", tooLong.err());
    CommandLineMistakesTest.Result zeroRuns = CommandLineMistakesTest.run("bench", "model", "--model", dir.toString(), "--runs", "0");
    assertEquals(2, zeroRuns.exit());
    assertEquals("tandem bench model: --runs 0: give a whole number >= 1", zeroRuns.err());
    assertEquals(1, noFolder);
    assertTrue(noFolderErr.toString().trim().startsWith("tandem bench model: --model " + tmp.resolve("absent")
        + ": no such folder; give a Hugging Face checkpoint folder"), noFolderErr.toString());
  }

  @Test
  void makeCheckpointFailsWithOneLineForAnUnknownShape() {
    CommandLineMistakesTest.Result r = CommandLineMistakesTest.run("make-checkpoint", "--shape", "gpt5", "--out",
        tmp.resolve("x").toString());
    assertEquals(2, r.exit());
    assertEquals("tandem make-checkpoint: --shape: unknown shape gpt5 (tiny, qwen2.5-0.5b, qwen2.5-1.5b)", r.err());
  }

  @Test
  void makeCheckpointSaysWhyItCannotWriteItsFolder() throws Exception {
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    CommandLineMistakesTest.Result r = CommandLineMistakesTest.run("make-checkpoint", "--shape", "tiny", "--out",
        file.resolve("ckpt").toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("tandem make-checkpoint: --out " + file.resolve("ckpt") + ": cannot create folder "
        + file.resolve("ckpt") + " (") && !r.err().contains("\n"), r.err());
  }
}
