package io.tandem.inference.hf;

/**
 * Rotary position embedding tables as Hugging Face computes them: {@code inv_freq} in float32
 * (with llama3 scaling applied once), and per position {@code cos/sin(emb)} where
 * {@code emb = [freqs, freqs]} (the rotate_half layout).
 */
public final class RotaryEmbedding {

  private final int headDim;
  private final float[] invFreq;

  public RotaryEmbedding(HfConfig config) {
    this.headDim = config.headDim();
    this.invFreq = invFreq(config);
  }

  /** HF's {@code inv_freq} buffer, {@code [head_dim / 2]}. */
  public float[] invFreq() {
    return invFreq.clone();
  }

  /**
   * Fills {@code cos} and {@code sin} rows {@code [positions.length][head_dim]} (flattened) for
   * the given absolute positions.
   */
  public void fill(int[] positions, float[] cos, float[] sin) {
    int half = headDim / 2;
    for (int t = 0; t < positions.length; t++) {
      int row = t * headDim;
      // float32 product as in HF's inv_freq @ position_ids, then cos/sin of that float.
      float pos = positions[t];
      for (int i = 0; i < half; i++) {
        float angle = pos * invFreq[i];
        float c = (float) Math.cos(angle);
        float s = (float) Math.sin(angle);
        cos[row + i] = c;
        cos[row + half + i] = c;
        sin[row + i] = s;
        sin[row + half + i] = s;
      }
    }
  }

  static float[] invFreq(HfConfig config) {
    int dim = config.headDim();
    float base = (float) config.ropeTheta();
    float[] inv = new float[dim / 2];
    for (int i = 0; i < inv.length; i++) {
      float exponent = (float) (2 * i) / (float) dim;
      inv[i] = 1.0f / (float) Math.pow(base, exponent);
    }
    HfConfig.RopeScaling s = config.ropeScaling();
    if (s != null && s.ropeType().equals("llama3")) {
      float factor = (float) s.factor();
      float low = (float) s.lowFreqFactor();
      float high = (float) s.highFreqFactor();
      float oldContext = s.originalMaxPositionEmbeddings();
      float lowFreqWavelen = oldContext / low;
      float highFreqWavelen = oldContext / high;
      for (int i = 0; i < inv.length; i++) {
        float wavelen = (float) (2 * Math.PI) / inv[i];
        if (wavelen < highFreqWavelen) {
          continue; // high frequencies are kept
        }
        if (wavelen > lowFreqWavelen) {
          inv[i] = inv[i] / factor;
        } else {
          float smooth = (oldContext / wavelen - low) / (high - low);
          inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
        }
      }
    }
    return inv;
  }
}
