"""What leaves the network: the privacy policy (``policy``), its pseudonyms (``pseudonyms``), the
field catalog the presets read (``catalog``) and the path syntax they share (``paths``)."""
