package io.tandem.protocol;

/**
 * How to pick the next token, with OpenAI's and vLLM's meanings: temperature 0 is greedy; topK 0
 * (or -1) and topP 1 disable those filters; a non-null seed makes the run reproducible.
 *
 * @param temperature the softmax temperature, finite and >= 0
 * @param topK keep the k most likely tokens, >= 1; 0 or -1: off (vLLM takes both, -1 its older
 *     convention), held as 0
 * @param topP keep the smallest set of tokens whose probability reaches p, in (0, 1] (1: off)
 * @param seed the sampler's seed; null for a random one
 */
public record SamplingParams(double temperature, int topK, double topP, Long seed)
    implements CborSerializable {

  /** The paper's evaluation settings: temperature 0.6, top-k 50, top-p 0.95. */
  public static final SamplingParams PAPER = new SamplingParams(0.6, 50, 0.95, null);
  /** Always the most likely token. */
  public static final SamplingParams GREEDY = new SamplingParams(0.0, 0, 1.0, null);

  /** @throws IllegalArgumentException when a value is out of the range given above (the message names it) */
  public SamplingParams {
    if (!(temperature >= 0) || Double.isInfinite(temperature))
      throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + shown(temperature));
    topK = topK(topK);
    if (!(topP > 0 && topP <= 1))
      throw new IllegalArgumentException("top_p must be in (0, 1], got " + shown(topP));
  }

  /** {@code x} as a person writes it: {@code 5}, not {@code 5.0}. */
  public static String shown(double x) {
    return Double.isFinite(x) ? java.math.BigDecimal.valueOf(x).stripTrailingZeros().toPlainString() : String.valueOf(x);
  }

  /**
   * A top-k as the sampler takes it: {@code k} itself when it is at least 1, 0 (off) for 0 or -1.
   * vLLM's {@code SamplingParams} takes both for off and says so in this message's words.
   *
   * @throws IllegalArgumentException {@code top_k must be 0 or -1 (off), or at least 1, got K}
   *     for {@code k < -1}
   */
  public static int topK(int k) {
    if (k < -1) throw new IllegalArgumentException("top_k must be 0 or -1 (off), or at least 1, got " + k);
    return Math.max(0, k);
  }

  /** Whether sampling is the argmax (temperature 0), whatever the filters and the seed. */
  public boolean greedy() {
    return temperature == 0.0;
  }

  /** These parameters with another seed (null: random). */
  public SamplingParams withSeed(Long newSeed) {
    return new SamplingParams(temperature, topK, topP, newSeed);
  }
}
