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
      defaultValue = "/work/shared/fixtures/qwen-tokenizer",
      description = "folder with tokenizer.json and tokenizer_config.json (default: ${DEFAULT-VALUE})")
  Path tokenizer;

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
      long params = CheckpointMaker.make(modelShape, out, seed, tokenizer, maxShardBytes);
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
