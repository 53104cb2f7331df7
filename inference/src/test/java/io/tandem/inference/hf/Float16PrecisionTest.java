package io.tandem.inference.hf;

import static io.tandem.inference.hf.Golden.argmax;
import static io.tandem.inference.hf.Golden.golden;
import static io.tandem.inference.hf.Golden.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * What {@link Precision#FLOAT16} changes, on the golden fixtures.
 *
 * <p>Every pass multiplies by the weights rounded to float16 (11 significant bits: exact for the
 * bfloat16 checkpoints, whose 8-bit mantissas fit, rounded for float32 ones), packed for FBGEMM;
 * the embedding rows are float16 too. The matmuls' inputs, accumulation and outputs, norms, RoPE,
 * attention, the residual stream and the KV cache stay float32. So logits move by about 1e-3 of
 * their scale, and a greedy token can change only where float32's best two logits are that close.
 */
class Float16PrecisionTest {

  /** Relative to the largest |logit|: float16's unit roundoff is 4.9e-4; the fixtures show 1.3e-3 to 3.4e-3. */
  private static final float RELATIVE_BOUND = 1e-2f;

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void decodeLogitsMoveByFloat16RoundingAndGreedyTokensChangeOnlyAtNearTies(String fixture) {
    JsonNode greedy = golden(fixture).get("greedy_generation");
    int[] prompt = ints(greedy.get("prompt_ids"));
    int steps = greedy.get("max_new_tokens").asInt();
    try (DecoderModel full = DecoderModel.load(Golden.fixture(fixture));
        DecoderModel half = DecoderModel.load(Golden.fixture(fixture), Device.cpu(), Precision.FLOAT16, l -> {})) {
      assertEquals(Precision.FLOAT16, half.precision());
      try (KvCache a = full.newCache();
          KvCache b = half.newCache()) {
        // Both read the prompt but its last token, which then starts the decode steps.
        int[] head = Arrays.copyOf(prompt, prompt.length - 1);
        full.forward(List.of(a), List.of(head));
        half.forward(List.of(b), List.of(head));
        int input = prompt[prompt.length - 1];
        int[] fullTokens = new int[steps];
        float worst = 0;
        for (int s = 0; s < steps; s++) {
          float[] f = full.forward(List.of(a), List.of(new int[] {input}))[0];
          float[] h = half.forward(List.of(b), List.of(new int[] {input}))[0];
          float scale = 0;
          float diff = 0;
          for (int i = 0; i < f.length; i++) {
            scale = Math.max(scale, Math.abs(f[i]));
            diff = Math.max(diff, Math.abs(f[i] - h[i]));
          }
          worst = Math.max(worst, diff / scale);
          assertTrue(diff <= RELATIVE_BOUND * scale,
              fixture + " step " + s + ": float16 logits within " + RELATIVE_BOUND + " of the scale " + scale + ", got " + diff);
          fullTokens[s] = argmax(f);
          if (argmax(h) != fullTokens[s]) {
            float margin = f[fullTokens[s]] - f[argmax(h)];
            assertTrue(margin <= 2 * diff,
                fixture + " step " + s + ": float16 chose another token although float32's margin " + margin
                    + " exceeds twice the logit error " + diff);
          }
          input = fullTokens[s];
        }
        assertArrayEquals(ints(greedy.get("new_token_ids")), fullTokens, "float32 stays Hugging Face's greedy path");
        assertTrue(worst > 0, "the float16 weights are what a decode step multiplies by");
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen2-tiny", "llama-tiny", "llama3-rope-tiny"})
  void greedyGenerationInFloat16MatchesHuggingFaceOnTheFixtures(String fixture) {
    // The fixtures' greedy paths have no near-ties at float16's scale, so the tokens are the same.
    JsonNode greedy = golden(fixture).get("greedy_generation");
    try (DecoderModel half = DecoderModel.load(Golden.fixture(fixture), Device.cpu(), Precision.FLOAT16, l -> {})) {
      int[] generated = DecoderModelGoldenTest.generateGreedy(
          half, ints(greedy.get("prompt_ids")), greedy.get("max_new_tokens").asInt(), java.util.Set.of());
      assertArrayEquals(ints(greedy.get("new_token_ids")), generated);
    }
  }

  @Test
  void aPrefillMultipliesByTheSameFloat16WeightsAsADecodeStep() {
    int[] prompt = ints(golden("llama-tiny").get("prefill").get("input_ids"));
    try (DecoderModel full = DecoderModel.load(Golden.fixture("llama-tiny"));
        DecoderModel half = DecoderModel.load(Golden.fixture("llama-tiny"), Device.cpu(), Precision.FLOAT16, l -> {});
        KvCache a = full.newCache();
        KvCache b = half.newCache()) {
      List<float[][]> f = full.forwardAllPositions(List.of(a), List.of(prompt));
      List<float[][]> h = half.forwardAllPositions(List.of(b), List.of(prompt));
      boolean anyDiffers = false;
      for (int t = 0; t < prompt.length; t++) {
        float scale = 0;
        float diff = 0;
        for (int i = 0; i < f.get(0)[t].length; i++) {
          scale = Math.max(scale, Math.abs(f.get(0)[t][i]));
          diff = Math.max(diff, Math.abs(f.get(0)[t][i] - h.get(0)[t][i]));
        }
        assertTrue(diff <= RELATIVE_BOUND * scale, "position " + t + ": " + diff + " against the scale " + scale);
        anyDiffers |= diff > 0;
      }
      assertTrue(anyDiffers, "the prefill's logits come from the float16 weights");
      // Prefill and decode agree: decoding the last prompt token again from a cache one shorter
      // gives the prefill's last row (same weights, same kernel, rows computed independently).
      try (KvCache c = half.newCache()) {
        half.forward(List.of(c), List.of(Arrays.copyOf(prompt, prompt.length - 1)));
        float[] decoded = half.forward(List.of(c), List.of(new int[] {prompt[prompt.length - 1]}))[0];
        float[] prefilled = h.get(0)[prompt.length - 1];
        for (int i = 0; i < decoded.length; i++)
          assertEquals(prefilled[i], decoded[i], 1e-4f * Math.max(1f, Math.abs(prefilled[i])), "logit " + i);
      }
    }
  }

  @Test
  void theSettingIsParsedFromItsConfigNameWithAClearErrorOtherwise() {
    assertEquals(Precision.FLOAT32, Precision.parse("float32"));
    assertEquals(Precision.FLOAT16, Precision.parse(" Float16 "));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("bfloat16"));
    assertTrue(e.getMessage().contains("unknown precision 'bfloat16'") && e.getMessage().contains("float32"), e.getMessage());
  }
}
