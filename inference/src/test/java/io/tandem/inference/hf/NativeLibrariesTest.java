package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whether DJL's cache folder can take its native libraries, said in one line where it cannot (tester59c). */
class NativeLibrariesTest {

  @TempDir Path dir;

  @Test
  void aWritableFolderIsCreatedAndLeftEmpty() throws Exception {
    Path cache = dir.resolve("a/b/.djl.ai");
    assertEquals(Optional.empty(), NativeLibraries.unwritable(cache));
    try (var left = Files.list(cache)) {
      assertEquals(0, left.count(), "the probe file is removed");
    }
  }

  @Test
  void aFolderThatCannotBeMadeIsNamedWithWhy() throws Exception {
    // Under a regular file nothing can be created, whoever runs the test (root passes permission checks).
    Path file = Files.writeString(dir.resolve("file"), "x");
    Optional<String> why = NativeLibraries.unwritable(file.resolve(".djl.ai"));
    assertTrue(why.isPresent());
    assertTrue(why.get().contains(file.toString()), why.get());
  }

  /** A library there that cannot be loaded is said in one line, with what to do (tester59e: a stack trace, exit 255). */
  @Test
  void aLibraryThatCannotBeLoadedIsNamedWithWhatToDo() {
    String why = NativeLibraries.whyNotLoaded(new ExceptionInInitializerError(new UnsatisfiedLinkError(
        "/c/tokenizers/libtokenizers.so: file too short"))).orElseThrow();
    assertTrue(why.startsWith("cannot load a native library DJL unpacked into ") && why.contains(
        "(/c/tokenizers/libtokenizers.so: file too short): it may be damaged") && why.endsWith("DJL_CACHE_DIR"), why);
    // Under the cache, the library's own folder is named, to be removed, and the JVM's wrapping is left out (tester59g).
    java.nio.file.Path cache = ai.djl.util.Utils.getEngineCacheDir();
    String lib = cache.resolve("tokenizers/0.21.0-cpu/libtokenizers.so").toString();
    String inCache = NativeLibraries.whyNotLoaded(new NoClassDefFoundError("Could not initialize class LibUtils")
        .initCause(new UnsatisfiedLinkError("Exception java.lang.UnsatisfiedLinkError: " + lib + ": " + lib
            + ": file too short [in thread \"worker-7\"]"))).orElseThrow();
    assertEquals("cannot load a native library DJL unpacked into " + cache.resolve("tokenizers/0.21.0-cpu") + " (libtokenizers.so:"
        + " file too short): it may be damaged (an unpacking cut short); remove " + cache.resolve("tokenizers/0.21.0-cpu")
        + " to have it unpacked again, or give another folder in the environment variable DJL_CACHE_DIR", inCache);
    assertEquals(Optional.empty(), NativeLibraries.whyNotLoaded(new IllegalStateException("another failure")));
    // A library this user cannot read is said so, not as damaged.
    String denied = NativeLibraries.whyNotLoaded(new UnsatisfiedLinkError("/c/tokenizers/libtokenizers.so: cannot open shared"
        + " object file: Permission denied")).orElseThrow();
    assertTrue(denied.contains("this user cannot read it (another user unpacked it)"), denied);
  }
}
