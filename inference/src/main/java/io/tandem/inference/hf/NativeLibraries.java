package io.tandem.inference.hf;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The folder DJL unpacks its native libraries into (libtorch and the Hugging Face tokenizers, from the jars Tandem
 * ships, about 450 MB on first use), and one line for a load that failed because it cannot be written: DJL's own words
 * were a stack trace and "Failed to load Huggingface native library.", which Tandem had read as a damaged
 * tokenizer.json (tester59c, on a read-only root file system). The folder is DJL's {@code Utils.getEngineCacheDir()}:
 * {@code ENGINE_CACHE_DIR} or {@code DJL_CACHE_DIR} (a system property or an environment variable), else
 * {@code ~/.djl.ai}, else, where the home folder cannot be written, {@code .djl.ai} under {@code java.io.tmpdir}
 * (DJL's "Resource Caches" documentation).
 */
public final class NativeLibraries {
  private NativeLibraries() {}

  /** The advice every such line ends with. */
  static final String FIX = "give a writable folder in the environment variable DJL_CACHE_DIR (or one that holds them"
      + " already), or a writable java.io.tmpdir (-Djava.io.tmpdir=DIR in TANDEM_JAVA_OPTS) where the home folder is not";

  /**
   * After a native load failed: why, in one line, where the folder DJL unpacks into cannot be written; empty where it
   * can (the failure was something else, said in DJL's words by the caller).
   */
  public static Optional<String> whyNotLoaded() {
    return unwritable(ai.djl.util.Utils.getEngineCacheDir()).map(why -> "cannot load the native libraries of PyTorch and"
        + " the Hugging Face tokenizers: DJL unpacks them (about 450 MB, on first use) into " + ai.djl.util.Utils.getEngineCacheDir()
        + ", which cannot be written (" + why + "); " + FIX);
  }

  /**
   * Why {@code dir} cannot take a new file, or empty where it can: it (and the folders above it that are missing) is
   * created, and a file written in it and removed, as DJL would.
   */
  static Optional<String> unwritable(Path dir) {
    try {
      Files.createDirectories(dir);
      Files.delete(Files.createTempFile(dir, ".tandem-probe", ""));
      return Optional.empty();
    } catch (AccessDeniedException e) {
      return Optional.of("permission denied: " + e.getFile());
    } catch (FileSystemException e) {
      return Optional.of((e.getReason() != null ? e.getReason() : e.getClass().getSimpleName()) + ": " + e.getFile());
    } catch (IOException | SecurityException e) {
      return Optional.of(String.valueOf(e.getMessage()));
    }
  }
}
