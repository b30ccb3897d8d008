#include <tunables/global>
/opt/dsf/plugins/usbStream/** {
  #include <abstractions/base>
  #include <abstractions/bash>
  #include <abstractions/python>
  #include <abstractions/user-tmp>
  #include <abstractions/nameservice>
  /usr/bin/python{2.[4-7],3.[0-9]+} ix,
  /usr/local/lib{,32,64}/python{2.[4-7],3,3.[0-9]}/{site,dist}-packages/** r,
  /opt/vc/lib/** rm,
  /etc/ssl/** r,
  capability dac_override,
  capability dac_read_search,
  capability sys_nice,
  /opt/dsf/bin/* rm,
  owner /opt/dsf/plugins/usbStream/ r,
  owner /opt/dsf/plugins/usbStream/** rwmlk,
  owner /proc/** rw,
  /sys/** r,
  /{,var/}run/dsf/** rw,
  network,
  /dev/video* rwmlk,
  /opt/dsf/sd/sys/ r,
  /opt/dsf/sd/sys/** r,
  /opt/dsf/sd/sys/** wk,
}
