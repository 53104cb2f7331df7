package io.tandem.inference.hf;

import static io.tandem.inference.hf.Golden.golden;
import static io.tandem.inference.hf.Golden.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.Sequence;
import io.tandem.protocol.SamplingParams;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** HfModel's forward pass: greedy tokens (taken beside the logits) and sampled ones in one batch. */
class HfModelTest {

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"float32", "float16"})
  void greedySequencesGetHuggingFacesTokensBesideASampledOne(String precision) {
    JsonNode greedy = golden("qwen2-tiny").get("greedy_generation");
    int[] prompt = ints(greedy.get("prompt_ids"));
    int steps = greedy.get("max_new_tokens").asInt();
    try (LanguageModel model = HfModel.load(Golden.fixture("qwen2-tiny"), "cpu", Precision.parse(precision));
        Sequence g = model.newSequence(SamplingParams.GREEDY);
        Sequence sampled = model.newSequence(new SamplingParams(1.0, 5, 1.0, 7L))) {
      g.append(prompt);
      sampled.append(prompt);
      int[] tokens = new int[steps];
      for (int s = 0; s < steps; s++) {
        int[] next = model.forward(List.of(sampled, g), Integer.MAX_VALUE);
        tokens[s] = next[1];
        assertEquals(prompt.length + s + 1, sampled.length(), "the sampled sequence grows by its token each pass");
      }
      assertArrayEquals(ints(greedy.get("new_token_ids")), tokens);
    }
  }

  /**
   * A prefill ahead: with its last token held back, a sequence is fed everything but that token and
   * samples nothing; released, it feeds that token alone and takes Hugging Face's greedy tokens.
   */
  @org.junit.jupiter.api.Test
  void aSequenceHoldingItsLastTokenBackPrefillsTheRestAndLaterGoesOnAsHuggingFacesDoes() {
    JsonNode greedy = golden("qwen2-tiny").get("greedy_generation");
    int[] prompt = ints(greedy.get("prompt_ids"));
    int steps = greedy.get("max_new_tokens").asInt();
    try (LanguageModel model = HfModel.load(Golden.fixture("qwen2-tiny"), "cpu", Precision.FLOAT32);
        Sequence g = model.newSequence(SamplingParams.GREEDY)) {
      g.append(prompt);
      assertEquals(true, g.holdLastToken(true));
      // In chunks of 2, as a worker's prefill-chunk would feed a long one.
      int passes = 0;
      while (g.processedLength() < prompt.length - 1) {
        assertArrayEquals(new int[] {LanguageModel.NOT_YET}, model.forward(List.of(g), 2), "nothing sampled while held");
        passes++;
      }
      assertEquals((prompt.length - 1 + 1) / 2, passes);
      assertEquals(prompt.length - 1, g.processedLength(), "everything but the held token is in the cache");
      assertEquals(prompt.length, g.length(), "nothing appended");
      org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> model.forward(List.of(g), 2),
          "a held sequence with nothing left to feed is refused");

      g.holdLastToken(false);
      int[] tokens = new int[steps];
      for (int s = 0; s < steps; s++) {
        int before = g.processedLength();
        tokens[s] = model.forward(List.of(g), Integer.MAX_VALUE)[0];
        assertEquals(before + 1, g.processedLength(), "one token fed per pass after the prefill ahead");
      }
      assertArrayEquals(ints(greedy.get("new_token_ids")), tokens);
    }
  }

  @org.junit.jupiter.api.Test
  void aModelWithItsOwnThreadCountSetsItOnTheThreadThatRunsItOnly() throws Exception {
    JsonNode greedy = golden("qwen2-tiny").get("greedy_generation");
    Torch.engine();
    int processDefault = ai.djl.pytorch.jni.JniUtils.getNumThreads();
    int[] seen = new int[1];
    try (LanguageModel model = HfModel.load(Golden.fixture("qwen2-tiny"), "cpu", Precision.FLOAT32, 1)) {
      Thread worker = new Thread(() -> {
        try (Sequence g = model.newSequence(SamplingParams.GREEDY)) {
          g.append(ints(greedy.get("prompt_ids")));
          model.forward(List.of(g), Integer.MAX_VALUE);
          seen[0] = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        }
      });
      worker.start();
      worker.join();
    }
    assertEquals(1, seen[0], "the worker's thread runs its passes on one thread");
    assertEquals(processDefault, ai.djl.pytorch.jni.JniUtils.getNumThreads(), "other threads keep theirs");
  }

  /**
   * The tokenizer's eos_token ends an answer beside the ids generation_config.json names, as in vLLM (tester59b: a
   * fine-tune whose generation_config.json names only its base model's end of text ran past its chat's end of turn).
   */
  @Test
  void theTokenizersEosTokenEndsAnAnswerBesideTheGenerationConfigsIds(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path fixture = Golden.fixture("qwen2-tiny");
    try (var files = java.nio.file.Files.list(fixture)) {
      for (java.nio.file.Path f : files.toList()) java.nio.file.Files.copy(f, dir.resolve(f.getFileName()));
    }
    java.nio.file.Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [318]}");
    try (HfModel model = HfModel.load(dir, "cpu", Precision.FLOAT32)) {
      int imEnd = model.tokenizer().encode("<|im_end|>")[0];
      assertEquals(java.util.Set.of(318, imEnd), model.eosTokenIds());
    }
  }
}
