package io.tandem.inference.hf;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

  /** The advice a line about an unwritable folder ends with: DJL_CACHE_DIR, or java.io.tmpdir where that is not set. */
  static String fix() {
    String set = System.getProperty("DJL_CACHE_DIR", System.getenv("DJL_CACHE_DIR"));
    // Once DJL_CACHE_DIR is set, java.io.tmpdir changes nothing (tester59e).
    if (set != null && !set.isBlank())
      return "give a writable folder in the environment variable DJL_CACHE_DIR (now " + set + "), or one that holds them already";
    return "give a writable folder in the environment variable DJL_CACHE_DIR (or one that holds them already), or a writable"
        + " java.io.tmpdir (-Djava.io.tmpdir=DIR in TANDEM_JAVA_OPTS) where the home folder is not";
  }

  /**
   * After a native load failed ({@code failure}, what DJL threw): why, in one line, where the folder DJL unpacks into
   * cannot be written, or where a library there could not be loaded (a {@link LinkageError}: one damaged, as by an
   * unpacking cut short, or unreadable, as folders another user unpacked with mode 700; tester59e: a stack trace, and
   * Akka's exit for a fatal error); empty otherwise (said in DJL's words by the caller).
   */
  public static Optional<String> whyNotLoaded(Throwable failure) {
    Path cache = ai.djl.util.Utils.getEngineCacheDir();
    String theirs = "; give this user a folder of its own in the environment variable DJL_CACHE_DIR, or run as the user who"
        + " unpacked them";
    // In this order (tester59h: a readable shared cache, which loads, had a damaged library blamed on its permissions;
    // tester59i: an old version's folder nobody can read, which DJL never loads, was blamed for a damaged library):
    // 1. a library there that does not load (damaged, or unreadable itself);
    Throwable linkage = null;
    for (Throwable t = failure; t != null && linkage == null; t = t.getCause()) if (t instanceof LinkageError) linkage = t;
    if (linkage != null) return Optional.of(damaged(cache, linkage));
    // 2. a folder of DJL's another user unpacked, which DJL makes theirs alone (mode 700) (tester59g);
    Optional<Path> unreadable = folderNot(cache, ENGINES, true);
    if (unreadable.isPresent())
      return Optional.of("cannot load the native libraries of PyTorch and the Hugging Face tokenizers: DJL's folder "
          + unreadable.get() + " cannot be read by this user (another user unpacked it, and DJL makes its folders theirs"
          + " alone)" + theirs);
    // 3. the folder of the engine that failed, which DJL had to write into, not writable by this user;
    String said = String.valueOf(failure.getMessage());
    List<String> engine = said.contains("Huggingface") || said.contains("tokenizers") ? List.of("tokenizers")
        : said.contains("PyTorch") || said.contains("torch") ? List.of("pytorch") : List.of();
    Optional<Path> unwritableEngine = folderNot(cache, engine, false);
    if (unwritableEngine.isPresent())
      return Optional.of("cannot load the native libraries of " + (engine.get(0).equals("pytorch") ? "PyTorch" : "the Hugging Face"
          + " tokenizers") + ": DJL has to unpack them into " + unwritableEngine.get() + ", which this user cannot write"
          + " (another user made it)" + theirs);
    // 4. the folder itself not writable (a read-only file system, a home folder that is not there).
    return unwritable(cache).map(why -> "cannot load the native libraries of PyTorch and the Hugging Face tokenizers: DJL"
        + " unpacks them (about 450 MB, on first use) into " + cache + ", which cannot be written (" + why + "); " + fix());
  }

  /** The folders under DJL's cache folder its engines unpack into; anything else there is not DJL's business. */
  private static final List<String> ENGINES = List.of("pytorch", "tokenizers");

  /** The line for a library under {@code cache} that did not load ({@code linkage}): its own folder named, to remove. */
  private static String damaged(Path cache, Throwable linkage) {
    Throwable root = linkage;
    while (root.getCause() != null) root = root.getCause();
    String said = root.getMessage() != null ? root.getMessage() : root.toString();
    // The library's own folder is the one to remove, not DJL_CACHE_DIR, which may be a folder of other things (tester59g);
    // the loader's words without the JVM's wrapping ("Exception java.lang.UnsatisfiedLinkError: ... [in thread ...]").
    said = said.replaceAll("\\s*\\[in thread \"[^\"]*\"\\]", "").replaceFirst("^Exception [\\w.$]+: ", "").strip();
    java.util.regex.Matcher so = java.util.regex.Pattern.compile("(/\\S+?\\.so(?:\\.\\d+)*)(?=:|\\s|$)").matcher(said);
    Path library = so.find() ? Path.of(so.group(1)) : null;
    Path folder = library != null && library.startsWith(cache) ? library.getParent() : null;
    String reason = folder == null ? said : library.getFileName() + ": " + said.substring(said.lastIndexOf(": ") + 2);
    if (reason.contains("Permission denied") || reason.contains("permission denied"))
      return "cannot load a native library DJL unpacked into " + (folder != null ? folder : cache) + " (" + reason + "): this"
          + " user cannot read it (another user unpacked it); give this user a folder of its own in the environment variable"
          + " DJL_CACHE_DIR, or run as the user who unpacked them";
    return "cannot load a native library DJL unpacked into " + (folder != null ? folder : cache) + " (" + reason
        + "): it may be damaged (an unpacking cut short); remove " + (folder != null ? folder
            : "the folder under " + cache + " that holds it") + " to have it unpacked again, or give another folder in the"
        + " environment variable DJL_CACHE_DIR";
  }

  /**
   * A folder of {@code engines} under {@code cache}, or a version's folder inside one, this user cannot list ({@code
   * read}) or write, as DJL leaves the folders it unpacks to another user (the versions' mode 700); empty where there
   * is none. Writing is asked of an engine's folder only, where DJL unpacks a version it lacks.
   */
  static Optional<Path> folderNot(Path cache, List<String> engines, boolean read) {
    for (String name : engines) {
      Path engine = cache.resolve(name);
      if (!Files.isDirectory(engine)) continue;
      if (!usable(engine, read)) return Optional.of(engine);
      if (!read || !Files.isReadable(engine) || !Files.isExecutable(engine)) continue;
      try (var versions = Files.list(engine)) {
        for (Path version : versions.filter(Files::isDirectory).sorted().toList())
          if (!usable(version, true)) return Optional.of(version);
      } catch (IOException | SecurityException e) {
        return Optional.of(engine);
      }
    }
    return Optional.empty();
  }

  private static boolean usable(Path dir, boolean read) {
    return read ? Files.isReadable(dir) && Files.isExecutable(dir) : Files.isWritable(dir);
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
      // The folder is named by the line; a probe file's name in it would only puzzle (tester59h).
      return Optional.of("permission denied");
    } catch (FileSystemException e) {
      return Optional.of((e.getReason() != null ? e.getReason() : e.getClass().getSimpleName()) + ": " + e.getFile());
    } catch (IOException | SecurityException e) {
      return Optional.of(String.valueOf(e.getMessage()));
    }
  }
}
