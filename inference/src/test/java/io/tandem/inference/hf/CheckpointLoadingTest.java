package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.inference.hf.safetensors.Dtype;
import io.tandem.inference.hf.safetensors.SafetensorsReader;
import io.tandem.inference.hf.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading checkpoint folders: dtypes, shards, and errors that name the file and the problem. */
class CheckpointLoadingTest {

  @TempDir Path tmp;

  @Test
  void bf16CheckpointIsWidenedExactlyToFloat32() {
    try (SafetensorsReader reader = SafetensorsReader.open(Golden.fixture("qwen2-tiny"))) {
      assertEquals(Dtype.BF16, reader.info("model.embed_tokens.weight").dtype());
      float[] embed = reader.readFloats("model.embed_tokens.weight");
      assertEquals(320 * 64, embed.length);
      for (float f : embed) {
        assertEquals(0, Float.floatToRawIntBits(f) & 0xffff, "a widened bf16 has 16 zero low bits");
      }
      assertTrue(embed[0] != 0f);
    }
    try (DecoderModel model = DecoderModel.load(Golden.fixture("qwen2-tiny"))) {
      assertEquals("bfloat16", model.config().torchDtype());
      assertEquals(ai.djl.ndarray.types.DataType.FLOAT32, model.computeDtype());
    }
  }

  @Test
  void shardedCheckpointFindsEachTensorThroughTheIndex() {
    try (SafetensorsReader reader = SafetensorsReader.open(Golden.fixture("llama-tiny"))) {
      assertEquals("model-00002-of-00002.safetensors", reader.info("lm_head.weight").file().getFileName().toString());
      assertEquals("model-00001-of-00002.safetensors", reader.info("model.embed_tokens.weight").file().getFileName().toString());
    }
  }

  @Test
  void missingShardIsReportedWithTheIndexAndTheFolder() throws IOException {
    Path dir = copy("llama-tiny");
    Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertEquals(dir.resolve("model.safetensors.index.json") + " lists model-00002-of-00002.safetensors, which is not in "
        + dir + "; download every shard the index lists into that folder", e.getMessage());
    // An empty index is said to be empty, as an empty config.json is (it was "no weight_map object").
    Files.writeString(dir.resolve("model.safetensors.index.json"), "");
    assertEquals(dir.resolve("model.safetensors.index.json") + ": expected a JSON object ({\"weight_map\": {...}}), found an"
        + " empty file", assertThrows(CheckpointException.class, () -> SafetensorsReader.open(dir)).getMessage());
    Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"lm_head.weight\": 5}}");
    assertEquals(dir.resolve("model.safetensors.index.json") + ": its \"weight_map\" maps lm_head.weight to 5, not to a file"
        + " name; copy or download it again", assertThrows(CheckpointException.class, () -> SafetensorsReader.open(dir)).getMessage());
    Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\": {}, \"weight_map\": {}}");
    assertEquals(dir.resolve("model.safetensors.index.json") + ": its \"weight_map\" is empty, so it names no weights; copy or"
        + " download it again",
        assertThrows(CheckpointException.class, () -> SafetensorsReader.open(dir)).getMessage());
  }

  @Test
  void unsupportedArchitectureIsReportedWithTheFileAndTheValue() throws IOException {
    Path dir = copy("qwen2-tiny");
    Path config = dir.resolve("config.json");
    Files.writeString(config, Files.readString(config).replace("Qwen2ForCausalLM", "MistralForCausalLM"));
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertTrue(e.getMessage().startsWith(config.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("unsupported architecture \"MistralForCausalLM\""), e.getMessage());
  }

  @Test
  void tensorShapeContradictingTheConfigIsReported() throws IOException {
    Path dir = copy("qwen2-tiny");
    Path config = dir.resolve("config.json");
    Files.writeString(config, Files.readString(config).replace("\"intermediate_size\": 176", "\"intermediate_size\": 128"));
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertTrue(
        e.getMessage().startsWith("model.layers.0.mlp.gate_proj.weight in " + dir.resolve("model.safetensors")
            + " has shape [176, 64] but config.json implies [128, 64]"),
        e.getMessage());
  }

  /** What a checkpoint without a tensor its config needs is told: the folder, the tensor and what to do. */
  private static String missing(Path dir, String tensor) {
    return "the weights in " + dir + " have no tensor " + tensor + ", which the model that config.json describes needs;"
        + " download the checkpoint again, or check that config.json belongs to these weights";
  }

  /** An index from another download, naming a tensor its shard lacks, says they do not belong together. */
  @Test
  void anIndexNamingATensorItsShardLacksIsReported() throws IOException {
    Path dir = copy("llama-tiny");
    Path index = dir.resolve("model.safetensors.index.json");
    Files.writeString(index, Files.readString(index).replace(
        "\"lm_head.weight\": \"model-00002-of-00002.safetensors\"", "\"lm_head.weight\": \"model-00001-of-00002.safetensors\""));
    assertEquals(index + " maps lm_head.weight to model-00001-of-00002.safetensors, which has no such tensor: the index and"
        + " its shards do not belong together; download them again together",
        assertThrows(CheckpointException.class, () -> SafetensorsReader.open(dir)).getMessage());
  }

  /** A folder with model.safetensors and a stale index loads the single file, as transformers does (tester43c). */
  @Test
  void theSingleFileIsReadBeforeAnIndexBesideIt() throws IOException {
    Path dir = copy("qwen2-tiny");
    Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\": {\"lm_head.weight\": \"gone.safetensors\"}}");
    try (SafetensorsReader reader = SafetensorsReader.open(dir)) {
      assertEquals("model.safetensors", reader.info("model.norm.weight").file().getFileName().toString());
    }
  }

  @Test
  void missingTensorIsReportedByName() throws IOException {
    Path dir = without("model.norm.weight");
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertEquals(missing(dir, "model.norm.weight"), e.getMessage());
  }

  /**
   * Weights without the {@code model.} prefix, as AutoModel saves a base model's, are named so, not as a config that
   * does not belong to them (tester59b: "the weights have no layer 1", where they had no layer under model. at all).
   */
  @Test
  void weightsNamedWithoutTheModelPrefixAreNamedSo() throws IOException {
    Path dir = renamed(name -> name.startsWith("model.") ? name.substring("model.".length()) : name);
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertEquals(dir + ": no tensor of the weights is named under model. (as model.layers.0.* and model.embed_tokens.weight of a"
        + " ...ForCausalLM checkpoint), they are named as layers.0.input_layernorm.weight (a base model's names, as AutoModel"
        + " saves them): give the causal-LM checkpoint (AutoModelForCausalLM.save_pretrained writes model.* and lm_head.weight)",
        e.getMessage());
  }

  /** A tensor the architecture has no use for is warned of, as transformers does (tester59b: dropped without a word). */
  @Test
  void aTensorTheArchitectureDoesNotUseIsWarnedOf() throws IOException {
    ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(DecoderModel.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = new ch.qos.logback.core.read.ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    try {
      DecoderModel.load(Golden.fixture("qwen2-tiny")).close();
      assertEquals(List.of(), lines.list.stream().map(Object::toString).toList(), "every tensor of the fixture is used");
      // A layer number past an int's is a number too (tester59h: Java's parse error stopped the load).
      Path dir = renamed(n -> n, java.util.Map.of("foo.bar", "model.norm.weight", "model.layers.99999999999.x.weight",
          "model.norm.weight"));
      DecoderModel.load(dir).close();
      assertEquals(List.of(dir + ": 2 tensors of the weights are not used by Qwen2ForCausalLM, as transformers would not use"
          + " them either: model.layers.99999999999.x.weight, foo.bar; the weights hold tensors of layers past config.json's"
          + " num_hidden_layers 2: the config may not belong to these weights"),
          lines.list.stream().map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage).toList());
    } finally {
      logger.detachAppender(lines);
    }
  }

  /** A file whose permissions stop the reader is said so, with what to do (tester59b: "cannot read (PATH)"). */
  @Test
  void aFileThePermissionsStopIsSaidSo() {
    assertEquals("permission denied; give the user Tandem runs as read access to it, e.g. chmod a+r",
        CheckpointException.why(new java.nio.file.AccessDeniedException("/m/config.json")));
    assertEquals("Input/output error", CheckpointException.why(new IOException("Input/output error")));
  }

  /** A tensor of the last layer missing is named before any layer loads (a tester's 0.5B failed 14 s in, at layer 18 of 24). */
  @Test
  void aTensorOfTheLastLayerMissingIsNamedBeforeAnyLayerLoads() throws IOException {
    String last = "model.layers.1.mlp.down_proj.weight";
    Path dir = without(last);
    List<Integer> loaded = new ArrayList<>();
    CheckpointException e = assertThrows(CheckpointException.class,
        () -> DecoderModel.load(dir, ai.djl.Device.cpu(), Precision.FLOAT32, loaded::add));
    assertEquals(missing(dir, last), e.getMessage());
    assertEquals(List.of(), loaded, "no layer loaded first");
  }

  /**
   * A tied model (config.json's {@code tie_word_embeddings}) whose weights hold an {@code
   * lm_head.weight} too projects with its embedding, as vLLM (which skips lm_head.* of a tied model)
   * does: a tester's zeroed lm_head beside a tied config wrote nothing for 400 tokens.
   */
  @Test
  void aTiedModelProjectsWithItsEmbeddingWhateverLmHeadTheWeightsHold() throws IOException {
    Path dir = copy("qwen2-tiny");
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    long[] embedShape;
    try (SafetensorsReader reader = SafetensorsReader.open(Golden.fixture("qwen2-tiny"))) {
      embedShape = reader.info("model.embed_tokens.weight").shape();
      for (String name : reader.names()) {
        float[] values = reader.readFloats(name);
        int[] at = {0};
        entries.add(new SafetensorsWriter.Entry(name, Dtype.F32, reader.info(name).shape(), (chunk, n) -> {
          System.arraycopy(values, at[0], chunk, 0, n);
          at[0] += n;
        }));
      }
    }
    entries.add(new SafetensorsWriter.Entry("lm_head.weight", Dtype.F32, embedShape, (chunk, n) -> java.util.Arrays.fill(chunk, 0, n, 0f)));
    SafetensorsWriter.write(dir.resolve("model.safetensors"), entries);
    List<int[]> prompt = List.of(new int[] {1, 2, 3, 4});
    DecoderModel tied = DecoderModel.load(Golden.fixture("qwen2-tiny"));
    DecoderModel withHead = DecoderModel.load(dir);
    try (KvCache a = tied.newCache(); KvCache b = withHead.newCache()) {
      float[] expected = tied.forwardAllPositions(List.of(a), prompt).get(0)[3];
      float[] got = withHead.forwardAllPositions(List.of(b), prompt).get(0)[3];
      assertEquals(expected.length, got.length);
      for (int i = 0; i < got.length; i++) assertEquals(expected[i], got[i], 1e-4f, "logit " + i + ": the embedding projects, not the zeros");
    }
  }

  /** A copy of the tiny fixture without the tensor {@code missing}. */
  private Path without(String missing) throws IOException {
    return renamed(name -> name.equals(missing) ? null : name);
  }

  /** A copy of the tiny fixture with each tensor named as {@code rename} says (null: left out). */
  private Path renamed(java.util.function.UnaryOperator<String> rename) throws IOException {
    return renamed(rename, java.util.Map.of());
  }

  /** As {@link #renamed(java.util.function.UnaryOperator)}, with copies of tensors under more names ({@code copies}: new name to the original's). */
  private Path renamed(java.util.function.UnaryOperator<String> rename, java.util.Map<String, String> copies) throws IOException {
    Path dir = copy("qwen2-tiny");
    Path file = dir.resolve("model.safetensors");
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    try (SafetensorsReader reader = SafetensorsReader.open(Golden.fixture("qwen2-tiny"))) {
      List<String> names = new ArrayList<>(reader.names());
      names.addAll(copies.keySet());
      for (String written : names) {
        String name = copies.getOrDefault(written, written);
        if (copies.containsKey(written) ? true : rename.apply(name) != null) {
          float[] values = reader.readFloats(name);
          int[] at = {0};
          entries.add(
              new SafetensorsWriter.Entry(
                  copies.containsKey(written) ? written : rename.apply(name), Dtype.BF16, reader.info(name).shape(),
                  (chunk, n) -> {
                    System.arraycopy(values, at[0], chunk, 0, n);
                    at[0] += n;
                  }));
        }
      }
    }
    SafetensorsWriter.write(file, entries);
    return dir;
  }

  @Test
  void aSafetensorsFileCutShortIsNamedAsCutShort() throws IOException {
    Path dir = copy("qwen2-tiny");
    Path file = dir.resolve("model.safetensors");
    byte[] bytes = Files.readAllBytes(file);
    long headerLength = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    Files.write(file, java.util.Arrays.copyOf(bytes, 100));
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertEquals(file + ": cut short: its header says " + headerLength + " bytes of JSON but the file has 92 after the"
        + " length; copy or download it again", e.getMessage());
    // Cut in its data: the last tensor named as where it stopped.
    Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 10));
    assertTrue(assertThrows(CheckpointException.class, () -> DecoderModel.load(dir)).getMessage()
        .matches(java.util.regex.Pattern.quote(file.toString()) + ": cut short: tensor \\S+ ends at byte " + bytes.length
            + " but the file has " + (bytes.length - 10) + "; copy or download it again"));
  }

  /** What a download gone wrong leaves in the weights' place is named, with what to do: a Git LFS pointer, a web page. */
  @Test
  void aGitLfsPointerOrAWebPageInPlaceOfTheWeightsIsNamed() throws IOException {
    Path dir = copy("qwen2-tiny");
    Path file = dir.resolve("model.safetensors");
    Files.writeString(file, "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 988097824\n");
    assertEquals(file + ": a Git LFS pointer (74 bytes of text), not the weights: the folder was cloned without Git LFS; run git"
        + " lfs pull in it, or download the model with huggingface-cli download",
        assertThrows(CheckpointException.class, () -> DecoderModel.load(dir)).getMessage());
    Files.writeString(file, "<!DOCTYPE html>\n<html><head><title>model.safetensors</title></head></html>\n");
    assertTrue(assertThrows(CheckpointException.class, () -> DecoderModel.load(dir)).getMessage()
        .startsWith(file + ": a web page (HTML), not the weights: "));
    // A header that is no JSON: one line, not Jackson's quote of kilobytes of it.
    byte[] bad = Files.readAllBytes(Golden.fixture("qwen2-tiny").resolve("model.safetensors"));
    bad[8] = '{';
    bad[9] = '{';
    Files.write(file, bad);
    String header = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir)).getMessage();
    assertTrue(header.length() < 300, header);
    // A header of a long bad token, or cut before its last brace: still short, no quote of the header.
    byte[] xs = bad.clone();
    java.util.Arrays.fill(xs, 8, 8 + (int) java.nio.ByteBuffer.wrap(xs, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(), (byte) 'X');
    Files.write(file, xs);
    String token = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir)).getMessage();
    assertTrue(token.startsWith(file + ": its header is not valid JSON (line 1, column 1): 'XXXX") && token.length() < 400, token);
    assertTrue(header.startsWith(file + ": its header is not valid JSON (line 1, column 2): ") && header.endsWith("; copy or"
        + " download it again") && header.length() < 300, header);
    Files.write(file, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
    assertTrue(assertThrows(CheckpointException.class, () -> DecoderModel.load(dir)).getMessage()
        .startsWith(file + ": not a safetensors file (its first 8 bytes"));
  }

  /**
   * A header that is JSON but no object of tensor entries, or an entry that is no entry, is said
   * as such: it was blamed on config.json ("the weights have no layer 1") or read as dtype "" (tester42a).
   */
  @Test
  void aSafetensorsHeaderOfTheWrongShapeIsNamed() throws IOException {
    Path dir = copy("qwen2-tiny");
    Path file = dir.resolve("model.safetensors");
    byte[] good = Files.readAllBytes(file);
    int length = (int) java.nio.ByteBuffer.wrap(good, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    String header = new String(good, 8, length, java.nio.charset.StandardCharsets.UTF_8);
    for (String replaced : List.of("null", "[1, 2]")) {
      byte[] bad = good.clone();
      byte[] with = String.format("%-" + length + "s", replaced).getBytes(java.nio.charset.StandardCharsets.UTF_8);
      System.arraycopy(with, 0, bad, 8, length);
      Files.write(file, bad);
      assertEquals(file + ": its header is not a JSON object of tensors (found " + replaced.replace(" ", "") + "); copy or"
          + " download it again", assertThrows(CheckpointException.class, () -> DecoderModel.check(dir)).getMessage());
    }
    String name = "model.embed_tokens.weight";
    int at = header.indexOf("\"" + name + "\":") + name.length() + 3;
    int end = header.indexOf('}', at) + 1;
    byte[] bad = good.clone();
    byte[] with = String.format("%-" + (end - at) + "s", "\"oops\"").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    System.arraycopy(with, 0, bad, 8 + at, end - at);
    Files.write(file, bad);
    assertEquals(file + ": its header's entry for tensor " + name + " is not {\"dtype\": ..., \"shape\": [...], \"data_offsets\":"
        + " [begin, end]} (found \"oops\"); copy or download it again",
        assertThrows(CheckpointException.class, () -> DecoderModel.check(dir)).getMessage());

    // Edited as JSON, padded with spaces to the header's length, so that the data stays where it was.
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode tensors = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(header);
    java.util.function.Consumer<com.fasterxml.jackson.databind.node.ObjectNode> write = h -> {
      byte[] edited = good.clone();
      byte[] text;
      try {
        text = String.format("%-" + length + "s", json.writeValueAsString(h)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(length, text.length, "the edited header fits in the old one's place");
        System.arraycopy(text, 0, edited, 8, length);
        Files.write(file, edited);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
    // No tensors at all: said as such (it was blamed on config.json: "the weights have no layer 1").
    write.accept(json.createObjectNode().set("__metadata__", json.createObjectNode().put("format", "pt")));
    assertEquals(file + ": its header lists no tensors, so it holds no weights; copy or download it again",
        assertThrows(CheckpointException.class, () -> DecoderModel.check(dir)).getMessage());
    // A part of an entry missing or wrong is named.
    com.fasterxml.jackson.databind.node.ObjectNode noOffsets = tensors.deepCopy();
    ((com.fasterxml.jackson.databind.node.ObjectNode) noOffsets.get(name)).remove("data_offsets");
    write.accept(noOffsets);
    assertEquals(file + ": its header's entry for tensor " + name + " has no \"data_offsets\" [begin, end] of whole numbers from 0"
        + " (found null); copy or download it again", assertThrows(CheckpointException.class, () -> DecoderModel.check(dir)).getMessage());
    // Two tensors over the same bytes (each would read the other's weights): refused, as the safetensors crate refuses them.
    com.fasterxml.jackson.databind.node.ObjectNode overlap = tensors.deepCopy();
    String first = null;
    String other = null;
    for (var it = tensors.fields(); it.hasNext(); ) {
      var e = it.next();
      if (e.getKey().equals("__metadata__")) continue;
      if (e.getValue().at("/data_offsets/0").asLong() == 0) first = e.getKey();
      else if (other == null) other = e.getKey();
    }
    long bytes = tensors.at("/" + other + "/data_offsets/1").asLong() - tensors.at("/" + other + "/data_offsets/0").asLong();
    ((com.fasterxml.jackson.databind.node.ObjectNode) overlap.get(other)).putArray("data_offsets").add(0).add(bytes);
    write.accept(overlap);
    String overlapping = assertThrows(CheckpointException.class, () -> DecoderModel.check(dir)).getMessage();
    assertTrue(overlapping.startsWith(file + ": tensor ") && overlapping.contains("'s data_offsets begin at ")
        && overlapping.endsWith(": safetensors lays tensors end to end; copy or download it again"), overlapping);
    assertTrue(overlapping.contains(first) && overlapping.contains(other), overlapping);
    // Bytes after the last tensor, and metadata that is no map of strings: refused, as the crate refuses them (tester42d).
    byte[] longer = java.util.Arrays.copyOf(good, good.length + 4);
    Files.write(file, longer);
    String after = assertThrows(CheckpointException.class, () -> DecoderModel.check(dir)).getMessage();
    assertTrue(after.startsWith(file + ": 4 bytes after its last tensor's data (") && after.endsWith("), which no tensor covers:"
        + " safetensors ends a file with its last tensor; copy or download it again"), after);
    com.fasterxml.jackson.databind.node.ObjectNode metadata = tensors.deepCopy();
    metadata.putObject("__metadata__").put("format", 1);
    write.accept(metadata);
    assertEquals(file + ": its header's \"__metadata__\" is not an object of strings (found {\"format\":1}); copy or download it"
        + " again", assertThrows(CheckpointException.class, () -> DecoderModel.check(dir)).getMessage());
    metadata.putNull("__metadata__"); // none, as the crate reads null (tester42e)
    write.accept(metadata);
    DecoderModel.check(dir);
  }

  /**
   * tokenizer_config.json and tokenizer.json are held to config.json's rule (tester42a): junk after
   * the object was read as if absent, an empty file was "no chat template", and tokenizer.json's
   * faults were said in the tokenizers crate's words; a byte order mark is dropped from both.
   */
  @Test
  void theTokenizersJsonFilesAreReadAsConfigJsonIs() throws IOException {
    Path dir = copy("qwen2-tiny");
    Path config = dir.resolve("tokenizer_config.json");
    String text = Files.readString(config);
    Files.writeString(config, text + " garbage");
    assertTrue(assertThrows(IllegalArgumentException.class, () -> io.tandem.inference.text.HfTokenizer.checkConfig(dir))
        .getMessage().startsWith(config + ": not valid JSON (line "), "junk after the object");
    assertTrue(assertThrows(IllegalArgumentException.class, () -> io.tandem.inference.text.ChatTemplate.load(dir))
        .getMessage().endsWith("more text ('garbage') after the object had ended (a file is one JSON object); remove it"));
    Files.writeString(config, "");
    assertEquals(config + ": expected a JSON object ({...}), found an empty file",
        assertThrows(IllegalArgumentException.class, () -> io.tandem.inference.text.HfTokenizer.load(dir)).getMessage());
    for (String[] written : new String[][] {{" \n", "only whitespace"}, {"[1]", "an array"}, {"\uFEFF", "an empty file"}}) {
      Files.writeString(config, written[0]);
      assertEquals(config + ": expected a JSON object ({...}), found " + written[1],
          assertThrows(IllegalArgumentException.class, () -> io.tandem.inference.text.HfTokenizer.checkConfig(dir)).getMessage());
    }
    Files.writeString(config, "\uFEFF" + text);
    io.tandem.inference.text.HfTokenizer.checkConfig(dir);

    Path tokenizer = dir.resolve("tokenizer.json");
    String tokens = Files.readString(tokenizer);
    Files.writeString(tokenizer, "// x\n" + tokens);
    assertEquals(tokenizer + ": not valid JSON (line 1, column 1): a comment, which JSON does not have; remove it",
        assertThrows(IllegalArgumentException.class, () -> io.tandem.inference.text.HfTokenizer.load(dir)).getMessage());
    Files.writeString(tokenizer, "");
    assertEquals(tokenizer + ": expected a JSON object ({\"model\": ..., ...}), found an empty file",
        assertThrows(IllegalArgumentException.class, () -> io.tandem.inference.text.HfTokenizer.load(dir)).getMessage());
    Files.writeString(tokenizer, "\uFEFF" + tokens);
    assertEquals(io.tandem.inference.text.HfTokenizer.load(Golden.fixture("qwen2-tiny")).key(),
        io.tandem.inference.text.HfTokenizer.load(dir).key(), "read past its byte order mark: the same bytes after it");
  }

  @Test
  void unsupportedTensorDtypeIsReportedWithTheFile() throws IOException {
    Path dir = copy("qwen2-tiny");
    Path file = dir.resolve("model.safetensors");
    byte[] bytes = Files.readAllBytes(file);
    String s = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1);
    int at = s.indexOf("\"BF16\"");
    System.arraycopy("\"I16\" ".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), 0, bytes, at, 6);
    Files.write(file, bytes);
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertTrue(e.getMessage().startsWith(file + ": tensor "), e.getMessage());
    assertTrue(e.getMessage().contains("unsupported dtype I16"), e.getMessage());
  }

  private Path copy(String fixture) throws IOException {
    Path src = Golden.fixture(fixture);
    Path dst = tmp.resolve(fixture);
    Files.createDirectories(dst);
    try (Stream<Path> files = Files.list(src)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        if (!f.getFileName().toString().equals("golden.json")) {
          Files.copy(f, dst.resolve(f.getFileName()));
        }
      }
    }
    return dst;
  }

  /** Rewrites {@code dir}'s config.json ({@code config}, saying {@code layers}) to say num_hidden_layers {@code claimed}. */
  private static void claimLayers(Path dir, String config, int layers, int claimed) throws IOException {
    Files.writeString(dir.resolve("config.json"),
        config.replaceFirst("\"num_hidden_layers\"\\s*:\\s*" + layers, "\"num_hidden_layers\": " + claimed));
  }

  @Test
  void aConfigWithMoreLayersThanTheWeightsOrUntiedWithoutAnLmHeadIsRefusedByKey(@TempDir Path dir) throws IOException {
    Path fixture = copyInto(dir, "qwen2-tiny");
    String config = Files.readString(dir.resolve("config.json"));
    int layers = HfConfig.load(fixture).numHiddenLayers();
    claimLayers(dir, config, layers, layers + 1);
    assertEquals(dir + ": config.json says num_hidden_layers " + (layers + 1) + " but the weights have no layer " + layers
        + " (model.layers." + layers + ".*): the config does not belong to these weights",
        assertThrows(CheckpointException.class, () -> DecoderModel.load(dir)).getMessage());
    if (HfConfig.load(fixture).tieWordEmbeddings()) {
      Files.writeString(dir.resolve("config.json"), config.replaceFirst("\"tie_word_embeddings\"\\s*:\\s*true", "\"tie_word_embeddings\": false"));
      assertTrue(assertThrows(CheckpointException.class, () -> DecoderModel.load(dir)).getMessage()
          .startsWith(dir + ": the weights have no lm_head.weight and config.json does not say \"tie_word_embeddings\": true"));
    }
  }

  @Test
  void aConfigWithFewerLayersThanTheWeightsIsRefused(@TempDir Path dir) throws IOException {
    Path fixture = copyInto(dir, "qwen2-tiny");
    String config = Files.readString(dir.resolve("config.json"));
    int layers = HfConfig.load(fixture).numHiddenLayers();
    claimLayers(dir, config, layers, layers - 1);
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertEquals(dir + ": the weights have a layer " + (layers - 1) + " (model.layers." + (layers - 1) + ".*) but config.json "
        + "says num_hidden_layers " + (layers - 1) + ": the config does not belong to these weights", e.getMessage());
  }

  @Test
  void aLlamaConfigOnQwen2WeightsWithBiasesIsRefused(@TempDir Path dir) throws IOException {
    copyInto(dir, "qwen2-tiny");
    Files.writeString(dir.resolve("config.json"),
        Files.readString(dir.resolve("config.json")).replace("Qwen2ForCausalLM", "LlamaForCausalLM"));
    CheckpointException e = assertThrows(CheckpointException.class, () -> DecoderModel.load(dir));
    assertTrue(e.getMessage().startsWith(dir + ": the weights have q/k/v biases"), e.getMessage());
  }

  /** A copy of a golden fixture's folder in {@code dir}, to break its config; returns the fixture's own folder. */
  private static Path copyInto(Path dir, String name) throws IOException {
    Path fixture = Golden.fixture(name);
    try (Stream<Path> files = Files.list(fixture)) {
      for (Path f : files.toList()) Files.copy(f, dir.resolve(f.getFileName()));
    }
    return fixture;
  }
}
