#!/bin/busybox sh
# /init of the benchmark's Linux initramfs (./build.sh bench; build/LinuxPeer.cs parses
# every line it prints). Like ../../../shared/peers/linux/init.sh, plus markers around each
# insmod so the host can time it from the serial timestamps, and rmmod between loads.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "PEER-UP uptime=$(cat /proc/uptime)"
dmesg | grep -E "setup_percpu:|percpu:|smpboot: Total"
echo "PEER-MEMINFO before $(grep Percpu /proc/meminfo)"
# SMALL_LOADS loads of the one-long module, each timed by the host between BEGIN and END.
for i in 1 2 3 4 5; do
  echo "SMALL-BEGIN $i"
  insmod /small.ko
  echo "SMALL-END $i rc=$?"
  rmmod small
done
insmod /bigarray.ko; echo "BIGARRAY-END rc=$?"
insmod /allocbench.ko n=10000; echo "ALLOCBENCH-END rc=$?"
dmesg | grep -E "BIGARRAY|ALLOCBENCH|Could not"
echo "PEER-MEMINFO after $(grep Percpu /proc/meminfo)"
echo "PEER-DONE"
poweroff -f
