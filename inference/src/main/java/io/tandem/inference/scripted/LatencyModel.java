package io.tandem.inference.scripted;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;

/**
 * How long a simulated forward pass takes: a fixed cost per decode pass, a cost per prefilled token,
 * and a growth of the pass's cost with the batch size (a memory-bound decode pass barely grows).
 * The profile's keys keep their file names ({@code decode_ms_per_step}: one decode pass).
 *
 * <p>pass time = decode_ms_per_step * (1 + batch_growth * (batch - 1)) + prefill_ms_per_token * prefilled
 */
@JsonIgnoreProperties({"source", "comment", "notes"})
public record LatencyModel(
    @JsonProperty(DECODE) double decodeMsPerStep,
    @JsonProperty(PREFILL) double prefillMsPerToken,
    @JsonProperty(GROWTH) double batchGrowth) {

  private static final String DECODE = "decode_ms_per_step";
  private static final String PREFILL = "prefill_ms_per_token";
  private static final String GROWTH = "batch_growth";
  private static final List<String> KEYS = List.of(DECODE, PREFILL, GROWTH);

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
   * @throws IllegalArgumentException in one line naming the file: an unknown or missing key (with
   *     the three a profile has), a figure that is no number or negative, or a file that cannot be
   *     read
   */
  public static LatencyModel load(Path file) {
    String shape = "; a latency profile is {\"" + DECODE + "\": MS, \"" + PREFILL + "\": MS, \"" + GROWTH + "\": FRACTION}";
    ObjectMapper json = new ObjectMapper();
    JsonNode tree;
    try {
      tree = json.readTree(io.tandem.protocol.text.Utf8Files.read("latency profile", file));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("latency profile " + file + ": not JSON (" + e.getOriginalMessage()
          + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()) + ")", e);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read latency profile " + file + ": " + e.getMessage(), e);
    }
    if (tree == null || !tree.isObject()) throw new IllegalArgumentException("latency profile " + file + ": not a JSON object" + shape);
    List<String> ignored = List.of(LatencyModel.class.getAnnotation(JsonIgnoreProperties.class).value());
    for (Iterator<String> keys = tree.fieldNames(); keys.hasNext(); ) {
      String key = keys.next();
      if (!KEYS.contains(key) && !ignored.contains(key))
        throw new IllegalArgumentException("latency profile " + file + ": unknown key '" + io.tandem.protocol.text.Clipped.of(key) + "'" + shape);
    }
    for (String key : KEYS) {
      // Jackson would read a missing figure as 0: a profile that silently takes no time.
      if (!tree.has(key)) throw new IllegalArgumentException("latency profile " + file + ": no '" + key + "'" + shape);
      if (!tree.get(key).isNumber())
        throw new IllegalArgumentException("latency profile " + file + ": '" + key + "' is not a number" + shape);
    }
    try {
      return json.treeToValue(tree, LatencyModel.class);
    } catch (JsonProcessingException e) {
      Throwable why = e instanceof ValueInstantiationException && e.getCause() != null ? e.getCause() : e;
      throw new IllegalArgumentException("latency profile " + file + ": " + why.getMessage() + shape, e);
    }
  }
}
