package io.tandem.ops;

import com.typesafe.config.Config;
import io.tandem.inference.hf.Precision;
import io.tandem.worker.WorkerSettings;
import java.util.List;

/**
 * The model of one role on this node: its spec, the devices to run replicas on, worker limits, and
 * the precision a checkpoint's weights are held in ({@code precision}: float32 or float16).
 */
public record RoleSpec(
    String model, List<String> devices, WorkerSettings settings, int perTenantQueueLimit, Precision precision) {

  public RoleSpec {
    devices = List.copyOf(devices);
    if (devices.isEmpty()) throw new IllegalArgumentException("a role needs at least one device");
    if (precision == null) precision = Precision.FLOAT32;
  }

  /** A role in float32. */
  public RoleSpec(String model, List<String> devices, WorkerSettings settings, int perTenantQueueLimit) {
    this(model, devices, settings, perTenantQueueLimit, Precision.FLOAT32);
  }

  /**
   * Reads {@code tandem.small} or {@code tandem.large}.
   *
   * @throws IllegalArgumentException when {@code precision} is neither float32 nor float16
   */
  public static RoleSpec fromConfig(Config c) {
    Precision precision = Precision.parse(c.hasPath("precision") ? c.getString("precision") : "float32");
    return new RoleSpec(c.getString("model"), c.getStringList("devices"), WorkerSettings.fromConfig(c),
        c.getInt("per-tenant-queue-limit"), precision);
  }

  /** This role with another model spec. */
  public RoleSpec withModel(String newModel) {
    return new RoleSpec(newModel, devices, settings, perTenantQueueLimit, precision);
  }

  /** This role with other worker limits. */
  public RoleSpec withSettings(WorkerSettings s) {
    return new RoleSpec(model, devices, s, perTenantQueueLimit, precision);
  }
}
