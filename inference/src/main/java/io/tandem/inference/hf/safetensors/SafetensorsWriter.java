package io.tandem.inference.hf.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/**
 * Writes one safetensors file the way the Python library does: u64 header length, JSON header
 * padded with spaces to a multiple of 8, then the tensors back to back in header order. Values
 * are streamed from a {@link FloatSource}, so a tensor never has to fit in a Java array.
 */
public final class SafetensorsWriter {

  /** Produces a tensor's values in row-major order, one chunk after the other. */
  @FunctionalInterface
  public interface FloatSource {
    /** Fills {@code chunk[0..count)} with the next values. */
    void fill(float[] chunk, int count);
  }

  /** One tensor to write. */
  public record Entry(String name, Dtype dtype, long[] shape, FloatSource source) {
    public long numel() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }

    public long byteLength() {
      return numel() * dtype.bytes();
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private SafetensorsWriter() {}

  /** Writes {@code entries} (in this order) to {@code file}, with {@code {"format": "pt"}} metadata. */
  public static void write(Path file, List<Entry> entries) throws IOException {
    ObjectNode header = JSON.createObjectNode();
    header.set("__metadata__", JSON.createObjectNode().put("format", "pt"));
    long offset = 0;
    for (Entry e : entries) {
      ObjectNode t = header.putObject(e.name());
      t.put("dtype", e.dtype().name());
      ArrayNode shape = t.putArray("shape");
      for (long d : e.shape()) {
        shape.add(d);
      }
      t.putArray("data_offsets").add(offset).add(offset + e.byteLength());
      offset += e.byteLength();
    }
    byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    head.flip();
    try (FileChannel ch =
        FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      writeFully(ch, head);
      float[] chunk = new float[1 << 16];
      ByteBuffer out = ByteBuffer.allocateDirect(chunk.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (Entry e : entries) {
        long left = e.numel();
        while (left > 0) {
          int n = (int) Math.min(chunk.length, left);
          e.source().fill(chunk, n);
          out.clear();
          for (int i = 0; i < n; i++) {
            switch (e.dtype()) {
              case F32 -> out.putFloat(chunk[i]);
              case BF16 -> out.putShort(Dtype.floatToBf16(chunk[i]));
              case F16 -> throw new IllegalArgumentException("writing F16 is not supported");
            }
          }
          out.flip();
          writeFully(ch, out);
          left -= n;
        }
      }
    }
  }

  /** Total bytes of data (without header) the entries occupy. */
  public static long dataBytes(List<Entry> entries) {
    return entries.stream().mapToLong(Entry::byteLength).sum();
  }

  /** Writes {@code model.safetensors.index.json} content for the given tensor-to-file map. */
  public static void writeIndex(Path file, long totalSize, long totalParameters, Map<String, String> weightMap)
      throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.putObject("metadata").put("total_parameters", totalParameters).put("total_size", totalSize);
    ObjectNode wm = root.putObject("weight_map");
    new java.util.TreeMap<>(weightMap).forEach(wm::put);
    JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), root);
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }
}
