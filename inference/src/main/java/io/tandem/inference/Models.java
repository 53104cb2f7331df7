package io.tandem.inference;

import io.tandem.inference.hf.HfModel;
import io.tandem.inference.hf.Precision;
import io.tandem.inference.scripted.LatencyModel;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.inference.scripted.SimulatedModel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a model from its spec: {@code scripted:PATH} (a position-indexed script),
 * {@code simulated:PATH?latency=PROFILE} (a script with a latency model), or a Hugging Face
 * checkpoint folder.
 */
public final class Models {

  /**
   * Opens the model named by {@code spec} on {@code device} ({@code cpu}, {@code gpu}, {@code gpu0},
   * ...; scripted and simulated models ignore it).
   *
   * @throws IllegalArgumentException when the spec is empty, names a file or folder that does not
   *     exist, or a simulated model without its latency profile (the message names the spec)
   */
  public static LanguageModel open(String spec, String device) {
    return open(spec, device, null);
  }

  /**
   * As {@link #open(String, String)}, with the precision a checkpoint's weights are held in
   * ({@link Precision}; null: float32 on the CPU, float16 on a GPU). Scripted and simulated models
   * ignore it.
   *
   * @throws IllegalArgumentException as {@link #open(String, String)} does
   */
  public static LanguageModel open(String spec, String device, Precision precision) {
    return open(spec, device, precision, 0);
  }

  /**
   * As {@link #open(String, String, Precision)}, a checkpoint running its forward passes with
   * {@code threads} intra-op threads (0: one per core; see {@code HfModel.load}).
   */
  public static LanguageModel open(String spec, String device, Precision precision, int threads) {
    if (spec == null || spec.isBlank()) throw new IllegalArgumentException("no model given");
    if (spec.startsWith("scripted:")) {
      return ScriptedModel.load(existing(spec.substring("scripted:".length()), spec));
    }
    if (spec.startsWith("simulated:")) {
      String rest = spec.substring("simulated:".length());
      int q = rest.indexOf("?latency=");
      if (q < 0)
        throw new IllegalArgumentException(
            "a simulated model is simulated:SCRIPT.json?latency=PROFILE.json; no latency profile in '" + spec + "'");
      Path script = existing(rest.substring(0, q), spec);
      LatencyModel latency = LatencyModel.load(existing(rest.substring(q + "?latency=".length()), spec));
      return new SimulatedModel("simulated:" + script.getFileName(), ScriptedModel.readTokens(script), latency);
    }
    Path dir = Path.of(spec);
    if (!Files.isDirectory(dir))
      throw new IllegalArgumentException(
          "model '" + spec + "' is neither scripted:PATH, simulated:PATH?latency=PROFILE nor a checkpoint folder");
    return precision == null && threads == 0 ? HfModel.load(dir, device)
        : HfModel.load(dir, device, precision != null ? precision : HfModel.defaultPrecision(device), threads);
  }

  private static Path existing(String path, String spec) {
    Path p = Path.of(path);
    // A relative path is taken from the folder the process runs in, which may not be the one the user thinks of.
    // A pipe or a device is read as a file, as the commands' input files are.
    if (Files.isDirectory(p))
      throw new IllegalArgumentException("model '" + spec + "': " + p + " is a folder, not a file");
    if (!Files.exists(p))
      throw new IllegalArgumentException("model '" + spec + "': no such file " + p + (p.isAbsolute() ? ""
          : " (a relative path is taken from the folder the command runs in, " + Path.of("").toAbsolutePath() + ")"));
    return p;
  }

  private Models() {}
}
