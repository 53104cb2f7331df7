package io.tandem.orchestrator.session;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The golden fixtures live once, in the inference module's test resources (see its README); the
 * other modules' tests read them from there (Maven runs each module's tests in its own folder).
 */
final class Fixtures {
  static Path dir(String name) {
    Path p = Path.of("..", "inference", "src", "test", "resources", "fixtures", name).toAbsolutePath().normalize();
    if (!Files.isDirectory(p)) throw new IllegalStateException("fixture folder missing: " + p);
    return p;
  }

  private Fixtures() {}
}
