package io.tandem.inference.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.SamplingParams;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SamplerTest {

  static final int QWEN_VOCAB = 151_936;

  static float[] randomLogits(long seed, int n, double scale) {
    Random r = new Random(seed);
    float[] out = new float[n];
    for (int i = 0; i < n; i++) out[i] = (float) (r.nextGaussian() * scale);
    return out;
  }

  static double[] softmax(float[] logits, double temperature) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) max = Math.max(max, l);
    double[] p = new double[logits.length];
    double sum = 0;
    for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp((logits[i] - max) / temperature);
    for (int i = 0; i < p.length; i++) p[i] /= sum;
    return p;
  }

  @Test
  void temperatureZeroPicksTheLargestLogitAndTheLowestIdOnTies() {
    Sampler greedy = new Sampler(SamplingParams.GREEDY);
    assertEquals(2, greedy.sample(new float[] {0.1f, -3f, 7.5f, 2f}));
    assertEquals(1, greedy.sample(new float[] {0f, 4f, 4f, -1f}));
    float[] big = randomLogits(1, QWEN_VOCAB, 3);
    int expected = IntStream.range(0, big.length).boxed().max(Comparator.comparingDouble(i -> big[i])).orElseThrow();
    assertEquals(expected, greedy.sample(big));
  }

  @Test
  void topKOfOneIsGreedyWhateverTheSeed() {
    for (long seed = 0; seed < 20; seed++) {
      float[] logits = randomLogits(seed, QWEN_VOCAB, 2);
      Sampler topOne = new Sampler(new SamplingParams(1.0, 1, 1.0, seed));
      assertEquals(Sampler.argmax(logits), topOne.sample(logits));
    }
  }

  @Test
  void aFixedSeedReproducesTheSameSequenceOfTokens() {
    SamplingParams paper = SamplingParams.PAPER.withSeed(1234L);
    int[] first = draws(new Sampler(paper), 200);
    int[] second = draws(new Sampler(paper), 200);
    assertArrayEquals(first, second);
    assertNotEquals(Arrays.toString(first), Arrays.toString(draws(new Sampler(paper.withSeed(99L)), 200)));
  }

  private static int[] draws(Sampler sampler, int n) {
    int[] out = new int[n];
    for (int i = 0; i < n; i++) out[i] = sampler.sample(randomLogits(i, 5000, 1.5));
    return out;
  }

  @Test
  void atTemperatureOneDrawsFollowTheSoftmax() {
    float[] logits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f};
    assertDrawsMatch(logits, new SamplingParams(1.0, 0, 1.0, 7L), softmax(logits, 1.0));
  }

  @Test
  void temperatureSharpensTheDistribution() {
    float[] logits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f};
    assertDrawsMatch(logits, new SamplingParams(0.5, 0, 1.0, 8L), softmax(logits, 0.5));
  }

  @Test
  void topKDrawsOnlyTheKLargestInProportionToTheirSoftmax() {
    float[] logits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f};
    double[] expected = softmax(new float[] {1.0f, 2.0f, 3.0f}, 1.0);
    assertDrawsMatch(logits, new SamplingParams(1.0, 3, 1.0, 9L),
        new double[] {expected[0], expected[1], 0, 0, expected[2], 0});
  }

  @Test
  void topPExcludesTokensOutsideTheNucleus() {
    // Probabilities 0.5, 0.3, 0.15, 0.05: with top_p 0.7, the mass above the third token (0.8)
    // already exceeds 0.7, so only the first two are ever drawn.
    float[] logits = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
    assertDrawsMatch(logits, new SamplingParams(1.0, 0, 0.7, 10L), new double[] {0.5 / 0.8, 0.3 / 0.8, 0, 0});
  }

  @Test
  void topPOverTheFullVocabularyKeepsExactlyTheNucleusAFullSortWouldKeep() {
    for (double topP : new double[] {0.5, 0.9, 0.95}) {
      for (double scale : new double[] {0.5, 2, 6}) {
        float[] logits = randomLogits((long) (topP * 100 + scale), QWEN_VOCAB, scale);
        Sampler.Candidates c = new Sampler(new SamplingParams(0.6, 0, topP, 1L)).candidates(logits);
        int[] reference = referenceNucleus(logits, 0.6, topP);
        assertArrayEquals(reference, c.ids(), "top_p " + topP + ", logit scale " + scale);
        assertEquals(1.0, Arrays.stream(c.probs()).sum(), 1e-9);
      }
    }
  }

  @Test
  void topKThenTopPKeepsTheNucleusOfTheTopK() {
    float[] logits = randomLogits(5, QWEN_VOCAB, 3);
    Sampler.Candidates c = new Sampler(new SamplingParams(0.6, 50, 0.95, 1L)).candidates(logits);
    Integer[] order = IntStream.range(0, logits.length).boxed().toArray(Integer[]::new);
    Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
    float[] top50 = new float[50];
    for (int i = 0; i < 50; i++) top50[i] = logits[order[i]];
    int[] nucleusOfTop50 = referenceNucleus(top50, 0.6, 0.95);
    int[] expected = Arrays.stream(nucleusOfTop50).map(i -> order[i]).toArray();
    assertArrayEquals(expected, c.ids());
    assertTrue(c.ids().length <= 50);
  }

  @Test
  void topKCandidatesAloneDrawTheSameTokensAsTheWholeRow() {
    // What a model hands over when it chooses top-k where its logits are: the ids at least the
    // k-th largest, in any order (here reversed), with their logits.
    for (int trial = 0; trial < 200; trial++) {
      float[] logits = randomLogits(100 + trial, trial % 2 == 0 ? QWEN_VOCAB : 300, 2 + trial % 5);
      if (trial % 3 == 0) logits[7] = logits[11] = logits[13]; // ties inside the candidates
      SamplingParams params = new SamplingParams(0.6, 50, trial % 4 == 0 ? 1.0 : 0.95, 1000L + trial);
      int[] ids = Sampler.topK(logits, 50);
      int[] reversed = new int[ids.length];
      float[] values = new float[ids.length];
      for (int i = 0; i < ids.length; i++) {
        reversed[i] = ids[ids.length - 1 - i];
        values[i] = logits[reversed[i]];
      }
      Sampler whole = new Sampler(params);
      Sampler top = new Sampler(params);
      for (int draw = 0; draw < 20; draw++) {
        assertEquals(whole.sample(logits), top.sampleTopK(reversed, values), "trial " + trial + " draw " + draw);
      }
    }
  }

  /** HF's TopPLogitsWarper, computed the plain way: a full sort and a cumulative sum. */
  static int[] referenceNucleus(float[] logits, double temperature, double topP) {
    double[] p = softmax(logits, temperature);
    Integer[] order = IntStream.range(0, logits.length).boxed().toArray(Integer[]::new);
    Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
    double above = 0;
    int keep = 0;
    while (keep < order.length && (keep == 0 || above < topP)) above += p[order[keep++]];
    return Arrays.stream(order, 0, keep).mapToInt(Integer::intValue).toArray();
  }

  private static void assertDrawsMatch(float[] logits, SamplingParams params, double[] expected) {
    Sampler sampler = new Sampler(params);
    int n = 200_000;
    int[] counts = new int[logits.length];
    for (int i = 0; i < n; i++) counts[sampler.sample(logits)]++;
    for (int i = 0; i < logits.length; i++) {
      double observed = counts[i] / (double) n;
      if (expected[i] == 0) {
        assertEquals(0, counts[i], "token " + i + " must never be drawn");
      } else {
        // 5 standard errors of a binomial proportion: a false alarm is a one-in-a-million event.
        double tolerance = 5 * Math.sqrt(expected[i] * (1 - expected[i]) / n);
        assertEquals(expected[i], observed, tolerance, "frequency of token " + i);
      }
    }
  }
}
