package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

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
    org.junit.jupiter.api.Assertions.assertTrue(bad.getMessage().startsWith(config + ": not valid JSON at line 2, column "), bad.getMessage());
    assertEquals(1, bad.getMessage().lines().count(), bad.getMessage());
    java.nio.file.Files.writeString(config, "");
    assertEquals(config + ": expected a JSON object ({...}), found an empty file",
        org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage());
    java.nio.file.Files.writeString(config, "{}");
    assertEquals(config + ": no \"architectures\"; a Hugging Face config names its model class there, e.g. "
        + "\"architectures\": [\"Qwen2ForCausalLM\"]",
        org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class, () -> HfConfig.load(dir)).getMessage());
  }
}
