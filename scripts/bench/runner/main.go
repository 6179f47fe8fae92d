// Command runner times a command as a whole process over many runs and
// prints the median wall time, the median CPU time (user+sys, including
// the children it waited for) and the peak RSS, from the kernel's rusage.
//
//	runner -n 200 -label NAME -expect 0 -- CMD ARGS...
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 200, "runs")
	label := flag.String("label", "", "name printed in the result line")
	expect := flag.Int("expect", 0, "exit status every run must have")
	warmup := flag.Int("warmup", 5, "untimed runs first (page cache, server warm-up)")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: runner [-n N] [-label L] [-expect CODE] -- CMD ARGS...")
		os.Exit(2)
	}
	var wall, cpu []time.Duration
	var rss []int64
	for i := 0; i < *warmup+*n; i++ {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stderr = os.Stderr
		start := time.Now()
		err := cmd.Run()
		elapsed := time.Since(start)
		code := 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				fmt.Fprintf(os.Stderr, "runner: %v\n", err)
				os.Exit(1)
			}
			code = ee.ExitCode()
		}
		if code != *expect {
			fmt.Fprintf(os.Stderr, "runner: %s: exit status %d, want %d\n", *label, code, *expect)
			os.Exit(1)
		}
		if i < *warmup {
			continue
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		wall = append(wall, elapsed)
		cpu = append(cpu, time.Duration(ru.Utime.Nano()+ru.Stime.Nano()))
		rss = append(rss, ru.Maxrss) // KiB on Linux
	}
	slices.Sort(wall)
	slices.Sort(cpu)
	slices.Sort(rss)
	med := func(d []time.Duration) float64 { return float64(d[len(d)/2]) / float64(time.Millisecond) }
	fmt.Printf("%-34s %9.2f %9.2f %9.1f %9.1f\n", *label, med(wall), med(cpu),
		float64(rss[len(rss)/2])/1024, float64(rss[len(rss)-1])/1024)
}
