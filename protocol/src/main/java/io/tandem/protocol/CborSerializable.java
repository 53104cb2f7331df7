package io.tandem.protocol;

/** Marker for every message that may cross the network; bound to Jackson CBOR in application.conf. */
public interface CborSerializable {}
