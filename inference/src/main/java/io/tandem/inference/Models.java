package io.tandem.inference;

import io.tandem.inference.scripted.LatencyModel;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.inference.scripted.SimulatedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BiFunction;

/**
 * Opens a model from its spec: {@code scripted:PATH} (a position-indexed script),
 * {@code simulated:PATH?latency=PROFILE} (a script with a latency model), or a Hugging Face
 * checkpoint folder.
 */
public final class Models {

  /** Opens checkpoint folders; set by the runtime so that this class needs no DJL. */
  private static volatile BiFunction<Path, String, LanguageModel> checkpointLoader;

  public static void registerCheckpointLoader(BiFunction<Path, String, LanguageModel> loader) {
    checkpointLoader = loader;
  }

  /** Opens the model named by {@code spec} on {@code device} ({@code cpu}, {@code gpu0}, ...). */
  public static LanguageModel open(String spec, String device) {
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
    if (checkpointLoader == null) {
      try {
        // The runtime registers itself when its class is initialised.
        Class.forName("io.tandem.inference.hf.HfModel");
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException("the checkpoint runtime is not on the class path", e);
      }
    }
    if (checkpointLoader == null)
      throw new IllegalStateException("the checkpoint runtime did not register a loader");
    return checkpointLoader.apply(dir, device);
  }

  private static Path existing(String path, String spec) {
    Path p = Path.of(path);
    if (!Files.isRegularFile(p)) throw new IllegalArgumentException("model '" + spec + "': no such file " + p);
    return p;
  }

  private Models() {}
}
