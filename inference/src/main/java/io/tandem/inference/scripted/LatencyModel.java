package io.tandem.inference.scripted;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;

/**
 * How long a simulated forward pass takes: a fixed cost per decode pass, a cost per prefilled token,
 * and a growth of the pass's cost with the batch size (a memory-bound decode pass barely grows).
 * The profile's keys keep their file names ({@code decode_ms_per_step}: one decode pass).
 *
 * <p>pass time = decode_ms_per_step * (1 + batch_growth * (batch - 1)) + prefill_ms_per_token * prefilled
 */
@JsonIgnoreProperties({"source", "comment", "notes"})
public record LatencyModel(
    @JsonProperty("decode_ms_per_step") double decodeMsPerStep,
    @JsonProperty("prefill_ms_per_token") double prefillMsPerToken,
    @JsonProperty("batch_growth") double batchGrowth) {

  /** Takes no time. */
  public static final LatencyModel ZERO = new LatencyModel(0, 0, 0);

  /** @throws IllegalArgumentException when a figure is negative */
  public LatencyModel {
    if (decodeMsPerStep < 0 || prefillMsPerToken < 0 || batchGrowth < 0)
      throw new IllegalArgumentException("latency figures must be >= 0");
  }

  /**
   * The time of one forward pass, in nanoseconds.
   *
   * @param batchSize sequences in the pass (0: no pass, no time)
   * @param prefilledTokens tokens fed beyond one per sequence
   */
  public long forwardNanos(int batchSize, int prefilledTokens) {
    if (batchSize == 0) return 0;
    double ms = decodeMsPerStep * (1 + batchGrowth * (batchSize - 1)) + prefillMsPerToken * prefilledTokens;
    return (long) (ms * 1_000_000);
  }

  /**
   * Reads a profile: JSON with {@code decode_ms_per_step}, {@code prefill_ms_per_token} and {@code
   * batch_growth} (and, ignored, {@code source}, {@code comment}, {@code notes}).
   *
   * @throws IllegalArgumentException when the file cannot be read or parsed (the message names it)
   */
  public static LatencyModel load(Path file) {
    try {
      return new ObjectMapper().readValue(file.toFile(), LatencyModel.class);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read latency profile " + file + ": " + e.getMessage(), e);
    }
  }
}
