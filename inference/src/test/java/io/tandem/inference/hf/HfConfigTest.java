package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** config.json and generation_config.json as the published checkpoints write them. */
class HfConfigTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void qwen2HeadDimIsHiddenSizeOverHeadsAndTiedEmbeddingsAreRead() {
    HfConfig c = HfConfig.load(Golden.fixture("qwen2-tiny"));
    assertEquals(HfConfig.Architecture.QWEN2, c.architecture());
    assertEquals(16, c.headDim());
    assertEquals(2, c.groupSize());
    assertEquals(true, c.tieWordEmbeddings());
    assertEquals(true, c.attentionBias());
    assertEquals(List.of(319), c.eosTokenIds());
    assertEquals(318, c.bosTokenId());
    assertNull(c.ropeScaling());
  }

  @Test
  void listValuedEosAndLlama3RopeScalingAreRead() {
    HfConfig c = HfConfig.load(Golden.fixture("llama3-rope-tiny"));
    assertEquals(List.of(2, 3), c.eosTokenIds());
    assertEquals("llama3", c.ropeScaling().ropeType());
    assertEquals(64, c.ropeScaling().originalMaxPositionEmbeddings());
    assertEquals(8.0, c.ropeScaling().factor());
  }

  @Test
  void olderConfigsWithTorchDtypeAndRopeScalingTypeKeyAreAccepted() throws Exception {
    JsonNode config =
        JSON.readTree(
            "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":160,"
                + "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":300,"
                + "\"torch_dtype\":\"float16\",\"eos_token_id\":2,\"pad_token_id\":0,"
                + "\"rope_scaling\":{\"type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,"
                + "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}}");
    HfConfig c = HfConfig.parse(config, JSON.readTree("{\"eos_token_id\":[2,5]}"), Path.of("config.json"));
    assertEquals("float16", c.torchDtype());
    assertEquals("llama3", c.ropeScaling().ropeType());
    assertEquals(16, c.headDim());
    assertEquals(List.of(2, 5), c.eosTokenIds(), "generation_config.json wins over config.json");
    assertEquals(0, c.padTokenId());
    assertEquals(false, c.attentionBias());
  }

  @Test
  void aConfigThatIsNotJsonOrNamesNoArchitectureIsOneLineSayingWhat(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path config = dir.resolve("config.json");
    java.nio.file.Files.writeString(config, "{\"architectures\": [\"Qwen2ForCausalLM\"],\n  \"hidden_size\": 64,,}");
    CheckpointException bad = org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir));
    assertEquals(config + ": not valid JSON (line 2, column 21): a ',' where a member name was expected: a member is a name in"
        + " double quotes, a ':' and a value (\"name\": \"x\")", bad.getMessage());
    assertEquals(1, bad.getMessage().lines().count(), bad.getMessage());
    java.nio.file.Files.writeString(config, "");
    assertEquals(config + ": expected a JSON object ({...}), found an empty file",
        org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage());
    java.nio.file.Files.writeString(config, "{}");
    assertEquals(config + ": no \"architectures\"; a Hugging Face config names its model class there, e.g. "
        + "\"architectures\": [\"Qwen2ForCausalLM\"] (or its \"model_type\": qwen2, llama or qwen3)",
        org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage());
    java.nio.file.Files.writeString(config, "{\"model_type\": \"mistral\"}");
    assertEquals(config + ": unsupported model_type \"mistral\" (no \"architectures\"; supported: qwen2, llama, qwen3, or"
        + " Qwen2ForCausalLM, LlamaForCausalLM, Qwen3ForCausalLM)",
        org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage());
    // What follows the object is refused, as Python's json.load refuses it ("Extra data"); it was read as if absent.
    java.nio.file.Files.writeString(config, "{\"architectures\": [\"Qwen2ForCausalLM\"]}\n{{{ oops");
    String junk = org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage();
    assertEquals(config + ": not valid JSON (line 2, column 1): more JSON after the object had ended (a file is one JSON"
        + " object); remove it", junk);
    // In JSON's terms, not Jackson's ("enable JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS", "ALLOW_COMMENTS").
    java.nio.file.Files.writeString(config, "{\"architectures\": [\"Qwen2ForCausalLM\"], \"rope_theta\": NaN}");
    String nan = org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage();
    assertEquals(config + ": not valid JSON (line 1, column 55): 'NaN' is no JSON value (JSON has no NaN or Infinity); write a"
        + " number, or leave the field out", nan);
    java.nio.file.Files.writeString(config, "{\n// hi\n\"architectures\": [\"Qwen2ForCausalLM\"]}");
    String comment = org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage();
    assertEquals(config + ": not valid JSON (line 2, column 1): a comment, which JSON does not have; remove it", comment);
    // Without architectures, model_type names the family, as transformers' AutoModelForCausalLM reads it.
    java.nio.file.Files.writeString(config, "{\"model_type\": \"llama\", \"hidden_size\": 64}");
    org.junit.jupiter.api.Assertions.assertFalse(org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class,
        () -> HfConfig.load(dir)).getMessage().contains("architectures"), "read as a Llama config, refused for what else it lacks");
  }

  /**
   * Each fault of a config.json in JSON's words and at the place of the character at fault, as
   * Python's json names it (tester41g: an unknown word, a single-quoted value, a missing comma, a raw
   * tab and a stray '}' got Jackson's own first line, its token quoted and "was expecting (JSON
   * String, Number, Array, Object ...", or a parenthesis left open; NaN was placed 3 past it).
   */
  @Test
  void eachJsonFaultOfAConfigIsSaidInJsonsTermsAtItsPlace(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path config = dir.resolve("config.json");
    String arch = "{\"architectures\": [\"Qwen2ForCausalLM\"]";
    java.util.Map<String, String> said = new java.util.LinkedHashMap<>();
    said.put(arch + "} garbage", "(line 1, column 41): more text ('garbage') after the object had ended (a file is one JSON object); remove it");
    said.put(arch + ", \"model_type\": 'qwen2'}",
        "(line 1, column 55): a single quote ('), where JSON's strings and member names take double quotes (\")");
    said.put(arch + " \"model_type\": \"qwen2\"}", "(line 1, column 40): a ',' missing between two members of an object");
    said.put(arch + ", \"model_type\": \"qw\ten2\"}", "(line 1, column 58): a control character (U+0009) inside a string, which"
        + " JSON does not allow there; write it as \\t");
    said.put(arch + "}}", "(line 1, column 40): a '}' after the JSON object had ended; remove it");
    said.put("{\"rope_theta\": NaN}", "(line 1, column 16): 'NaN' is no JSON value (JSON has no NaN or Infinity); write a number,"
        + " or leave the field out");
    said.put("{\"a\": [1, 2}", "(line 1, column 12): a '}' where the array opened at line 1, column 7 is still open (a ']' is"
        + " missing before it)");
    said.put("{\"a\": \"x", "(line 1, column 9): the file ends inside the string that begins at line 1, column 7 (was it cut"
        + " short?); a string ends with '\"'");
    said.put("X".repeat(300), "(line 1, column 1): '" + "X".repeat(64) + "...' is no JSON value (a string is written in double"
        + " quotes; the words JSON has are true, false and null)");
    for (var c : said.entrySet()) {
      java.nio.file.Files.writeString(config, c.getKey());
      assertEquals(config + ": not valid JSON " + c.getValue(),
          org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage(), c.getKey());
    }
    // A number beyond a double's range is refused, not read as infinity (Python's json would; the model then wrote garbage).
    java.nio.file.Files.writeString(config, "{\"architectures\": [\"Qwen2ForCausalLM\"], \"rope_scaling\": {\"factor\": 1e400}}");
    assertEquals(config + ": \"rope_scaling\".\"factor\" is a number out of range: beyond a 64-bit float's (about -1.8e308"
        + " to 1.8e308), which Python would read as infinity; write a finite number",
        org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage());
    // However the number is written: 2,000 digits of an integer ran as infinity too (tester42c).
    // Python reads an integer exactly (a field no one uses may hold one), but a field used as a 64-bit float cannot.
    String tiny = java.nio.file.Files.readString(Golden.fixture("qwen2-tiny").resolve("config.json"));
    java.nio.file.Files.writeString(config, tiny.replace("\"rope_theta\": 1000000.0", "\"rope_theta\": " + "9".repeat(2000))
        .replace("{", "{\"unused\": " + "9".repeat(2000) + ", "));
    assertEquals(config + ": \"rope_theta\" is " + "9".repeat(64) + "..., beyond a 64-bit float's range (about 1.8e308); write a"
        + " number the model can compute with",
        org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage());
    java.nio.file.Files.writeString(config, tiny.replace("\"rms_norm_eps\": 1e-06", "\"rms_norm_eps\": 1e-400"));
    assertEquals(config + ": \"rms_norm_eps\" is 1E-400, too small for a 64-bit float (it reads as 0); write a number the model"
        + " can compute with",
        org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage());
    java.nio.file.Files.writeString(config, tiny.replace("{", "{\"unused\": " + "9".repeat(2000) + ", "));
    assertEquals(64, HfConfig.load(dir).hiddenSize(), "an integer no field uses is read as Python reads it");
    // A model_type that is no string is shown as written, not quoted as if it were one.
    java.nio.file.Files.writeString(config, "{\"model_type\": 5}");
    assertTrue(org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage()
        .startsWith(config + ": unsupported model_type 5 (no \"architectures\";"));
    // UTF-8 as transformers opens it (a byte order mark dropped, as every text file Tandem reads); UTF-16 is named.
    java.nio.file.Files.write(config, "\uFEFF{\"model_type\": \"mistral\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    assertTrue(org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage()
        .startsWith(config + ": unsupported model_type \"mistral\""), "read past its byte order mark");
    java.nio.file.Files.write(config, "\uFEFF{\"model_type\": \"qwen2\"}".getBytes(java.nio.charset.StandardCharsets.UTF_16LE));
    assertEquals("checkpoint file " + config + ": not UTF-8 text but UTF-16, little-endian (it begins with the byte order mark"
        + " FF FE) (Tandem reads text files as UTF-8); save it as UTF-8",
        org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage());
  }

  @Test
  void sizesCountsAndNumbersOfTheWrongKindAreRefusedByName() throws Exception {
    java.nio.file.Path file = java.nio.file.Path.of("config.json");
    String base = "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":160,"
        + "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":100";
    String[][] cases = {
      {"\"num_attention_heads\":0", "\"num_attention_heads\" must be a whole number from 1, found 0"},
      {"\"num_hidden_layers\":2.5", "\"num_hidden_layers\" must be a whole number from 1, found 2.5"},
      {"\"num_key_value_heads\":-2", "\"num_key_value_heads\" must be a whole number from 1, found -2"},
      {"\"max_position_embeddings\":0", "\"max_position_embeddings\" must be a whole number from 1, found 0"},
      {"\"rope_theta\":-1", "\"rope_theta\" must be a number above 0, found -1"},
      {"\"rms_norm_eps\":\"tiny\"", "\"rms_norm_eps\" must be a number above 0, found \"tiny\""},
      {"\"tie_word_embeddings\":\"yes\"", "\"tie_word_embeddings\" must be true or false, found \"yes\""},
      {"\"eos_token_id\":\"x\"", "\"eos_token_id\" must be a token id (a whole number from 0) or a list of them, found \"x\""},
      {"\"eos_token_id\":[2,-1]", "\"eos_token_id\" must be a token id (a whole number from 0) or a list of them, found [2,-1]"},
      {"\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":0,\"low_freq_factor\":1,\"high_freq_factor\":4}", "\"rope_scaling.factor\" must be a number above 0, found 0"},
      {"\"rope_parameters\":{\"rope_type\":\"llama3\",\"factor\":8}", "rope_parameters of type llama3 needs \"low_freq_factor\""},
      {"\"rope_parameters\":{\"rope_type\":\"yarn\",\"factor\":8}", "rope_parameters type \"yarn\" is not supported (default or llama3)"
          + HfConfig.UNSUPPORTED},
      {"\"hidden_act\":\"gelu\"", "hidden_act \"gelu\" is not supported (only silu); Tandem runs Qwen2, Qwen3 and Llama-family"
          + " decoders without it: give such a checkpoint (or one whose config.json leaves this out)"},
      // A member of rope_scaling or rope_parameters is named with its parent, as it is found.
      {"\"rope_parameters\":{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":1,\"high_freq_factor\":4,"
          + "\"original_max_position_embeddings\":0}", "\"rope_parameters.original_max_position_embeddings\" must be a whole"
          + " number from 1, found 0"},
      {"\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":-5}", "\"rope_parameters.rope_theta\" must be a number above 0, found -5"},
      {"\"eos_token_id\":[2,100]", "\"eos_token_id\" 100 is not below config.json's vocab_size 100: one of the two is wrong (an eos id the model cannot produce would make every answer run to its token limit)"},
      {"\"use_sliding_window\":true,\"max_window_layers\":-1", "\"max_window_layers\" must be a whole number from 0, found -1"},
      {"\"rope_scaling\":\"linear\"", "\"rope_scaling\" must be an object such as {\"rope_type\": \"llama3\", ...}, found \"linear\""},
    };
    for (String[] c : cases) {
      // A later key wins in Jackson's tree, so each case overrides the base's value.
      JsonNode config = JSON.readTree(base + "," + c[0] + "}");
      CheckpointException e = org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class,
          () -> HfConfig.parse(config, JSON.createObjectNode(), file), c[0]);
      assertEquals(file + ": " + c[1], e.getMessage());
    }
  }

  @Test
  void transformers5RopeParametersAreRead() throws Exception {
    String base = "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":160,"
        + "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":100,";
    HfConfig plain = HfConfig.parse(JSON.readTree(base
        + "\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":1000000.0}}"), JSON.createObjectNode(), java.nio.file.Path.of("c"));
    assertEquals(1000000.0, plain.ropeTheta());
    assertNull(plain.ropeScaling());
    HfConfig llama3 = HfConfig.parse(JSON.readTree(base + "\"rope_parameters\":{\"rope_type\":\"llama3\",\"rope_theta\":500000.0,"
        + "\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":64}}"),
        JSON.createObjectNode(), java.nio.file.Path.of("c"));
    assertEquals(500000.0, llama3.ropeTheta());
    assertEquals("llama3", llama3.ropeScaling().ropeType());
    assertEquals(8.0, llama3.ropeScaling().factor());
    assertEquals(64, llama3.ropeScaling().originalMaxPositionEmbeddings());
    // As transformers 5: the top-level theta where rope_parameters has none; a legacy rope_scaling first.
    HfConfig mixed = HfConfig.parse(JSON.readTree(base + "\"rope_theta\":500000.0,\"rope_parameters\":{\"rope_type\":\"default\"},"
        + "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0},"
        + "\"max_position_embeddings\":128,\"eos_token_id\":null}"), JSON.createObjectNode(), java.nio.file.Path.of("c"));
    assertEquals(500000.0, mixed.ropeTheta());
    assertEquals(8.0, mixed.ropeScaling().factor());
    assertEquals(128, mixed.ropeScaling().originalMaxPositionEmbeddings(), "absent: max_position_embeddings, as transformers 5");
    assertEquals(List.of(), mixed.eosTokenIds(), "null: no eos");
  }

  @Test
  void slidingWindowLayersCapTheContextAtTheWindowAndMissingPositionsTakeTransformersDefaults() throws Exception {
    String qwen2 = "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":160,"
        + "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":100,\"max_position_embeddings\":4096,"
        + "\"sliding_window\":64";
    java.util.function.Function<String, HfConfig> parse = extra -> {
      try {
        return HfConfig.parse(JSON.readTree(qwen2 + extra + "}"), JSON.createObjectNode(), java.nio.file.Path.of("c"));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
    // Layers from max_window_layers on slide (transformers' layer_types); none of 2 when it is 2.
    assertEquals(64, parse.apply(",\"use_sliding_window\":true,\"max_window_layers\":1").contextLength());
    assertEquals("sliding_window", parse.apply(",\"use_sliding_window\":true,\"max_window_layers\":1").contextLengthKey());
    assertEquals("max_position_embeddings", parse.apply("").contextLengthKey());
    assertEquals(64, parse.apply(",\"use_sliding_window\":true,\"max_window_layers\":0").slidingWindow());
    assertEquals(4096, parse.apply(",\"use_sliding_window\":true,\"max_window_layers\":2").contextLength());
    assertEquals(4096, parse.apply(",\"use_sliding_window\":true").contextLength(), "max_window_layers defaults to 28");
    assertEquals(4096, parse.apply(",\"use_sliding_window\":false,\"max_window_layers\":0").contextLength());
    assertEquals(64, parse.apply(",\"use_sliding_window\":true,\"layer_types\":[\"full_attention\",\"sliding_attention\"]")
        .contextLength(), "listed layer types win over max_window_layers");
    assertNull(parse.apply(",\"use_sliding_window\":true,\"layer_types\":[\"full_attention\",\"full_attention\"],"
        + "\"max_window_layers\":0").slidingWindow());
    HfConfig wide = parse.apply(",\"use_sliding_window\":true,\"max_window_layers\":0,\"sliding_window\":8192");
    assertEquals(4096, wide.contextLength(), "a window wider than the positions changes nothing");
    assertEquals(4096, wide.maxPositionEmbeddings());

    String noPositions = "\"hidden_size\":64,\"intermediate_size\":160,\"num_hidden_layers\":2,"
        + "\"num_attention_heads\":4,\"vocab_size\":100}";
    assertEquals(2048, HfConfig.parse(JSON.readTree("{\"architectures\":[\"LlamaForCausalLM\"]," + noPositions),
        JSON.createObjectNode(), java.nio.file.Path.of("c")).contextLength(), "LlamaConfig's default");
    assertEquals(32768, HfConfig.parse(JSON.readTree("{\"architectures\":[\"Qwen2ForCausalLM\"]," + noPositions),
        JSON.createObjectNode(), java.nio.file.Path.of("c")).contextLength(), "Qwen2Config's default");
  }
}
