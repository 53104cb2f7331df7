package io.tandem.ops;

import io.tandem.inference.hf.CheckpointMaker;
import io.tandem.inference.hf.CheckpointMaker.ModelShape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tandem make-checkpoint}: writes a random-weight Qwen2.5-shaped checkpoint for benchmarks and demos. */
@Command(
    name = "make-checkpoint",
    mixinStandardHelpOptions = true,
    description = "Writes a random-weight checkpoint in Hugging Face layout (config.json, generation_config.json, "
        + "bf16 model.safetensors or shards, tokenizer files).")
public final class MakeCheckpointCommand implements Callable<Integer> {

  @Option(names = "--shape", required = true, description = "tiny, qwen2.5-0.5b or qwen2.5-1.5b")
  String shape;

  @Option(names = "--out", required = true, description = "folder to write (created if absent)")
  Path out;

  @Option(names = "--seed", defaultValue = "0", description = "random seed (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(
      names = "--tokenizer",
      description = "folder with tokenizer.json and tokenizer_config.json (default: Qwen2.5's tokenizer, which ships "
          + "with Tandem)")
  Path tokenizer;

  /** Qwen2.5's tokenizer files, on the class path (the launcher's jar). */
  static final String SHIPPED_TOKENIZER = "/io/tandem/ops/qwen-tokenizer/";

  private static final java.util.List<String> SHIPPED_FILES =
      java.util.List.of("tokenizer.json", "tokenizer_config.json", "LICENSE.npm-package");

  @Option(
      names = "--max-shard-bytes",
      defaultValue = "5000000000",
      description = "shard the weights above this size (default: ${DEFAULT-VALUE}, as Hugging Face)")
  long maxShardBytes;

  @Option(names = "--force", description = "overwrite a checkpoint already in --out")
  boolean force;

  @Override
  public Integer call() {
    try {
      ModelShape modelShape = ModelShape.parse(shape);
      if (!force && Files.exists(out.resolve("config.json"))) {
        System.err.println("make-checkpoint: " + out + " already holds a checkpoint; pass --force to overwrite");
        return 1;
      }
      long start = System.nanoTime();
      long params;
      if (tokenizer != null) {
        params = CheckpointMaker.make(modelShape, out, seed, tokenizer, maxShardBytes);
      } else {
        Path shipped = Files.createTempDirectory("tandem-qwen-tokenizer");
        try {
          for (String f : SHIPPED_FILES) {
            try (java.io.InputStream in = MakeCheckpointCommand.class.getResourceAsStream(SHIPPED_TOKENIZER + f)) {
              if (in == null) throw new IllegalStateException("the shipped tokenizer is missing " + f + "; give --tokenizer DIR");
              Files.copy(in, shipped.resolve(f));
            }
          }
          params = CheckpointMaker.make(modelShape, out, seed, shipped, maxShardBytes);
        } finally {
          for (String f : SHIPPED_FILES) Files.deleteIfExists(shipped.resolve(f));
          Files.deleteIfExists(shipped);
        }
      }
      System.out.printf(
          "wrote %s (%s, %,d parameters, seed %d) in %.1f s%n",
          out, modelShape.id(), params, seed, (System.nanoTime() - start) / 1e9);
      return 0;
    } catch (Exception e) {
      System.err.println("make-checkpoint: " + e.getMessage());
      return 1;
    }
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new MakeCheckpointCommand()).execute(args));
  }
}
