package io.tandem.inference.sampling;

import io.tandem.protocol.SamplingParams;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from a row of logits: greedy at temperature 0, otherwise Hugging Face's
 * order of warpers (temperature, then top-k, then top-p) followed by a draw from a seeded RNG.
 *
 * <p>It runs once per generated token over a vocabulary of ~152k entries, so it never sorts the
 * whole vocabulary: top-k is a bounded heap; top-p alone buckets tokens by their distance from the
 * largest logit and sorts only the buckets that can hold the nucleus. One sampler per sequence:
 * it holds the RNG and scratch buffers, so it is not thread-safe.
 */
public final class Sampler {

  // Top-p buckets are a quarter of a nat wide in (max - logit) / T; the last one takes the rest.
  private static final int BUCKETS = 160;
  private static final double BUCKETS_PER_NAT = 4.0;

  // exp(-40) = 4e-18: tokens further below the best (after temperature) cannot matter even summed
  // over the whole vocabulary, and skipping their exp() saves most of the time on real logits.
  private static final double NEGLIGIBLE_GAP = 40;

  private final SamplingParams params;
  private final SplittableRandom random;
  private float[] scratch = new float[0];
  private final double[] bucketMass = new double[BUCKETS];
  private double totalMass; // of the whole vocabulary, set by nucleusSuperset

  /** A sampler for one sequence; a non-null {@code seed} makes its draws reproducible. */
  public Sampler(SamplingParams params) {
    this.params = params;
    this.random = params.seed() == null ? new SplittableRandom() : new SplittableRandom(params.seed());
  }

  public SamplingParams params() {
    return params;
  }

  /** The next token id for these logits (one row, one entry per vocabulary id). */
  public int sample(float[] logits) {
    if (logits.length == 0) throw new IllegalArgumentException("cannot sample from an empty vocabulary");
    if (params.greedy()) return argmax(logits);
    if (!filtersApply(logits.length)) return sampleFull(logits);
    return draw(candidates(logits));
  }

  /**
   * The next token id from top-k's candidates alone, as {@link #sample} draws it from the whole
   * row: {@code ids} are every id whose logit is at least the k-th largest, in any order, and
   * {@code logits} theirs (what a model chose where its logits are, e.g. {@code
   * DecoderModel.TopLogits}).
   *
   * @throws IllegalStateException when these params sample without top-k, or greedily
   */
  public int sampleTopK(int[] ids, float[] logits) {
    if (params.greedy() || params.topK() <= 0) {
      throw new IllegalStateException("top-k candidates given to a sampler without top-k: " + params);
    }
    return draw(candidates(ids.clone(), logits.clone(), true));
  }

  private int draw(Candidates c) {
    double u = random.nextDouble();
    double cumulative = 0;
    for (int i = 0; i < c.ids.length; i++) {
      cumulative += c.probs[i];
      if (u < cumulative) return c.ids[i];
    }
    return c.ids[c.ids.length - 1]; // rounding left u just above the total
  }

  /** The id of the largest logit; the lowest such id on ties. */
  public static int argmax(float[] logits) {
    int best = 0;
    float max = logits[0];
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > max) {
        max = logits[i];
        best = i;
      }
    }
    return best;
  }

  private boolean filtersApply(int vocab) {
    return (params.topK() > 0 && params.topK() < vocab) || params.topP() < 1.0;
  }

  /** Temperature only: one pass of exponentials, one walk. */
  private int sampleFull(float[] logits) {
    float[] p = scratch(logits.length);
    float max = logits[argmax(logits)];
    double invT = 1.0 / params.temperature();
    double total = 0;
    for (int i = 0; i < logits.length; i++) {
      double gap = (max - logits[i]) * invT;
      float e = gap < NEGLIGIBLE_GAP ? (float) Math.exp(-gap) : 0f;
      p[i] = e;
      total += e;
    }
    double u = random.nextDouble() * total;
    double cumulative = 0;
    int last = 0;
    for (int i = 0; i < logits.length; i++) {
      if (p[i] == 0) continue;
      cumulative += p[i];
      last = i;
      if (u < cumulative) return i;
    }
    return last;
  }

  /** The tokens that survive top-k and top-p, most probable first, with probabilities summing to 1. */
  record Candidates(int[] ids, double[] probs) {}

  Candidates candidates(float[] logits) {
    int k = params.topK();
    boolean afterTopK = k > 0 && k < logits.length;
    int[] ids = afterTopK ? topK(logits, k) : nucleusSuperset(logits, 1.0 / params.temperature());
    float[] values = new float[ids.length];
    for (int i = 0; i < ids.length; i++) values[i] = logits[ids[i]];
    return candidates(ids, values, afterTopK);
  }

  /**
   * The candidates {@code ids} with their logits {@code values} (both reordered here), most
   * probable first, cut by top-p: renormalised over themselves after top-k, else relative to
   * {@link #totalMass}, the whole vocabulary's.
   */
  private Candidates candidates(int[] ids, float[] values, boolean afterTopK) {
    double invT = 1.0 / params.temperature();
    sortByLogitDescending(ids, values);
    float max = values[0];
    double[] probs = new double[ids.length];
    double total = 0;
    for (int i = 0; i < ids.length; i++) {
      probs[i] = Math.exp((values[i] - max) * invT);
      total += probs[i];
    }
    // After top-k, top-p renormalises over the survivors, as HF's warpers chain; without top-k
    // the candidates are only a prefix of the vocabulary, and the nucleus is relative to all of it.
    if (!afterTopK) total = totalMass;
    int keep = ids.length;
    if (params.topP() < 1.0) {
      // HF keeps a token while the mass ranked strictly above it is below top_p (at least one).
      double above = 0;
      double limit = params.topP() * total;
      keep = 0;
      while (keep < ids.length && (keep == 0 || above < limit)) {
        above += probs[keep];
        keep++;
      }
    }
    double kept = 0;
    for (int i = 0; i < keep; i++) kept += probs[i];
    int[] outIds = Arrays.copyOf(ids, keep);
    double[] outProbs = new double[keep];
    for (int i = 0; i < keep; i++) outProbs[i] = probs[i] / kept;
    return new Candidates(outIds, outProbs);
  }

  /**
   * The ids whose logit is at least the k-th largest: HF's top-k keeps ties with the k-th value.
   * A min-heap of k logits finds that value in one pass.
   */
  public static int[] topK(float[] logits, int k) {
    float[] heap = new float[k];
    int size = 0;
    for (float v : logits) {
      if (size < k) {
        heap[size] = v;
        siftUp(heap, size++);
      } else if (v > heap[0]) {
        heap[0] = v;
        siftDown(heap, k);
      }
    }
    float kth = heap[0];
    int count = 0;
    for (float v : logits) if (v >= kth) count++;
    int[] ids = new int[count];
    int j = 0;
    for (int i = 0; i < logits.length; i++) if (logits[i] >= kth) ids[j++] = i;
    return ids;
  }

  private static void siftUp(float[] heap, int i) {
    float v = heap[i];
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (heap[parent] <= v) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = v;
  }

  private static void siftDown(float[] heap, int size) {
    float v = heap[0];
    int i = 0;
    while (true) {
      int child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && heap[child + 1] < heap[child]) child++;
      if (heap[child] >= v) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = v;
  }

  /**
   * The most probable tokens up to a bucket boundary, holding at least top_p of the mass: a
   * prefix of the sorted vocabulary that contains the nucleus, found without sorting. Sets
   * {@link #totalMass} to the unnormalised mass of the whole vocabulary.
   */
  private int[] nucleusSuperset(float[] logits, double invT) {
    Arrays.fill(bucketMass, 0);
    float max = logits[argmax(logits)];
    double total = 0;
    for (float l : logits) {
      double gap = (max - l) * invT;
      if (!(gap < NEGLIGIBLE_GAP)) continue; // beyond every nucleus, and massless
      double p = Math.exp(-gap);
      total += p;
      bucketMass[bucket(gap)] += p;
    }
    totalMass = total;
    double needed = params.topP() * total;
    double cumulative = 0;
    int last = BUCKETS - 1;
    for (int b = 0; b < BUCKETS; b++) {
      cumulative += bucketMass[b];
      if (cumulative >= needed) {
        last = b;
        break;
      }
    }
    int count = 0;
    for (float l : logits) if (bucket((max - l) * invT) <= last) count++;
    int[] ids = new int[count];
    int j = 0;
    for (int i = 0; i < logits.length; i++) if (bucket((max - logits[i]) * invT) <= last) ids[j++] = i;
    return ids;
  }

  private static int bucket(double gap) {
    double b = gap * BUCKETS_PER_NAT;
    return b >= BUCKETS - 1 || Double.isNaN(b) ? BUCKETS - 1 : (int) b;
  }

  /** Sorts ids and their logits (side by side) by logit, largest first, lower id first on ties. */
  private static void sortByLogitDescending(int[] ids, float[] values) {
    // Pack (logit, id) into longs so a primitive sort does the work: flip the float bits into an
    // order-preserving int, complement it for descending order, and keep the id in the low bits.
    long[] keys = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      int bits = Float.floatToIntBits(values[i]);
      int ordered = bits >= 0 ? bits : bits ^ 0x7fffffff;
      keys[i] = ((long) ~ordered << 32) | (ids[i] & 0xffffffffL);
    }
    Arrays.sort(keys);
    for (int i = 0; i < ids.length; i++) {
      ids[i] = (int) keys[i];
      int ordered = ~(int) (keys[i] >>> 32);
      values[i] = Float.intBitsToFloat(ordered >= 0 ? ordered : ordered ^ 0x7fffffff);
    }
  }

  private float[] scratch(int n) {
    if (scratch.length < n) scratch = new float[n];
    return scratch;
  }
}
